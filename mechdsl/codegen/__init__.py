"""Code generation (stage 5): checked model + derivation -> a batched PyTorch package.

`printer` prints SymPy as torch code, `layout` fixes the state/action layouts and local
names, `certificate` writes the vectorised check of the original constraints, `vectorize`
prints long sums of isomorphic terms on stacked tensors, `generate` renders the Jinja2
templates in `templates/` (`templating` checks and escapes), `package_write` writes a
package into its folder all at once.
"""

from mechdsl.codegen.generate import MARKER, compile_spec, render

__all__ = ["MARKER", "compile_spec", "render"]
