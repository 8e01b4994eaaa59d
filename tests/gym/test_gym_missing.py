"""Without gymnasium, making an adapter says how to install it (runs whether or not
gymnasium is installed: the import is blocked)."""

from __future__ import annotations

import sys

import pytest

import mechdsl.gym as adapter


def test_missing_gymnasium_says_how_to_install(monkeypatch, package):
    adapter._vector_env_class.cache_clear()
    adapter._env_class.cache_clear()
    for name in [m for m in sys.modules if m == "gymnasium" or m.startswith("gymnasium.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "gymnasium", None)  # `import gymnasium` raises ImportError
    try:
        with pytest.raises(ModuleNotFoundError, match=r"pip install 'mechdsl\[gym\]'"):
            adapter.as_vector_env(package.Env(), 4)
        with pytest.raises(ModuleNotFoundError, match=r"pip install 'mechdsl\[gym\]'"):
            adapter.as_env(package.Env())
        with pytest.raises(ModuleNotFoundError, match=r"pip install 'mechdsl\[gym\]'"):
            adapter.register(package)
    finally:
        adapter._vector_env_class.cache_clear()
        adapter._env_class.cache_clear()
