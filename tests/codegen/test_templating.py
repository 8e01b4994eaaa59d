"""The rendering guards: dicts read by key only, and no invalid file ever rendered or written."""

from __future__ import annotations

import jinja2
import pytest

from mechdsl.codegen.generate import write_package
from mechdsl.codegen.templating import CheckedEnvironment, GeneratedCodeError, check_rendered, template_line_of


def _environment(tmp_path, **templates: str) -> CheckedEnvironment:
    for name, text in templates.items():
        (tmp_path / name.replace("__", ".")).write_text(text)
    return CheckedEnvironment(tmp_path, trim_blocks=True, lstrip_blocks=True)


def test_a_dict_key_named_like_a_dict_method_reads_the_key(tmp_path):
    """The root of the fixed-probability bug: `{{ block.values }}` printed `dict.values`."""
    env = _environment(tmp_path, m__py__j2="x = {{ block.values }}\n")
    assert env.get_template("m.py.j2").render(block={"values": "(0.5, 0.5)"}) == "x = (0.5, 0.5)"


def test_a_missing_key_or_attribute_is_an_error_not_a_method(tmp_path):
    env = _environment(tmp_path, m__py__j2="x = {{ block.items }}\n")
    with pytest.raises(jinja2.UndefinedError):
        env.get_template("m.py.j2").render(block={"values": 1})


def test_a_module_that_does_not_parse_names_its_template_and_line(tmp_path):
    env = _environment(tmp_path, env__py__j2="import math\n\n\nvalue = torch.tensor({{ table }}, dtype=x)\n")
    with pytest.raises(GeneratedCodeError) as raised:
        env.get_template("env.py.j2").render(table="1 +")
    error = raised.value
    assert (error.template, error.template_line, error.output, error.output_line) == ("env.py.j2", 4, "env.py", 4)
    assert "template env.py.j2, line 4" in str(error) and "SyntaxError" in str(error)


def test_the_template_line_is_found_through_loops(tmp_path):
    """Output line 4 comes from template line 3 (a loop body); the literal text finds it."""
    source = "ROWS = (\n{% for r in rows %}\n    {{ r }},  # row {{ loop.index0 }}\n{% endfor %}\n)\n"
    env = _environment(tmp_path, t__py__j2=source)
    with pytest.raises(GeneratedCodeError) as raised:
        env.get_template("t.py.j2").render(rows=["1", "2", "3 3"])
    assert raised.value.output_line == 4 and raised.value.template_line == 3
    assert template_line_of(source, "no such text at all") is None


def test_the_repr_of_an_object_is_refused_even_in_a_comment(tmp_path):
    env = _environment(tmp_path, m__py__j2="x = 1  # {{ thing }}\n")
    with pytest.raises(GeneratedCodeError, match="repr of a Python object"):
        env.get_template("m.py.j2").render(thing={}.values)
    with pytest.raises(GeneratedCodeError, match="repr of a Python object"):
        check_rendered("see <Foo object at 0x7f00aa>\n", "README.md", "README.md.j2", "see {{ x }}\n")


def test_json_must_load(tmp_path):
    env = _environment(tmp_path, spec__json__j2='{"a": {{ a }}}\n')
    assert env.get_template("spec.json.j2").render(a="1") == '{"a": 1}'
    with pytest.raises(GeneratedCodeError, match="invalid JSON"):
        env.get_template("spec.json.j2").render(a="nan nan")


def test_nothing_is_written_when_a_module_does_not_render(tmp_path):
    env = _environment(tmp_path, env__py__j2="def f(:\n")
    out = tmp_path / "package"
    with pytest.raises(GeneratedCodeError):
        write_package(out, lambda: {"env.py": env.get_template("env.py.j2").render()})
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["env.py.j2"]  # no staging folder left
