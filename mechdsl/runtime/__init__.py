"""Fixed helpers that generated packages import at run time (spec-independent code)."""
