"""A command-line tool's `argv`: one item per argument or group of arguments, filled
from the validated inputs. Each value stays whole: no shell ever splits or expands it.

- `"{file}"`, `"-{level}"`, `"--width={width}"`: a template, formatted with the inputs'
  fields; a FileRef field gives the InputFile, so `{file}` is its local path and
  `{file.name}` the name it was uploaded with. It is left out when a field it names is
  None, and gives one argument per item when a field it names is a list.
- `Flag("--count")`: the switch, present when the input is true.
- `Option("--skip-fields")`: the option and the value as two arguments, left out when
  the value is None, repeated for each item of a list (`-e a -e b`).

A Flag or Option uses the input named after its flag, as argparse names its `dest`
(`--skip-fields` -> `skip_fields`), unless given another: `Option("-n", "lines")`.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from string import Formatter


def _input_named_after(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class Flag:
    flag: str
    input: str = field(default="")

    def __post_init__(self) -> None:
        if not self.input:
            object.__setattr__(self, "input", _input_named_after(self.flag))

    def arguments(self, values: Mapping[str, object]) -> list[str]:
        return [self.flag] if values[self.input] else []


@dataclass(frozen=True)
class Option:
    option: str
    input: str = field(default="")

    def __post_init__(self) -> None:
        if not self.input:
            object.__setattr__(self, "input", _input_named_after(self.option))

    def arguments(self, values: Mapping[str, object]) -> list[str]:
        value = values[self.input]
        items = value if isinstance(value, list) else [] if value is None else [value]
        return [argument for item in items for argument in (self.option, f"{item}")]


ArgvItem = str | Flag | Option


def template_inputs(template: str) -> list[str]:
    """The inputs a template names: `"--out={file.stem}.txt"` -> `["file"]`."""
    return [
        re.split(r"[.\[]", name, maxsplit=1)[0]
        for _, name, _, _ in Formatter().parse(template)
        if name is not None
    ]


def build_argv(items: Sequence[ArgvItem], values: Mapping[str, object]) -> list[str]:
    return [
        argument
        for item in items
        for argument in (
            _template_arguments(item, values) if isinstance(item, str) else item.arguments(values)
        )
    ]


def _template_arguments(template: str, values: Mapping[str, object]) -> list[str]:
    named = set(template_inputs(template))
    if any(values[name] is None for name in named):
        return []
    lists = [name for name in named if isinstance(values[name], list)]
    if len(lists) > 1:
        raise ValueError(f"argv item {template!r} names more than one list: {sorted(lists)}")
    if not lists:
        return [template.format_map(values)]
    (name,) = lists
    items = values[name]
    assert isinstance(items, list)
    return [template.format_map({**values, name: item}) for item in items]
