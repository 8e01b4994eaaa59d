"""Auction design (`design auction NAME` specs): the checked model (`model`), the value
distributions as SymPy cdf/pdf (`distributions`), Myerson's optimal auction derived
symbolically (`myerson`, with numeric ironing in `ironing` and the expected revenue in
`revenue`), the mechanism run on sampled profiles (`mechanism`) and its incentive
certificate (`certificate`). Learned multi-item mechanisms live in `learned/`."""
