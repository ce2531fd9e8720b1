"""The command-line reference, generated from the argument parser and TrainConfig at build time.

Nothing here restates an option: every command's section is that command's own `--help` text,
read from `tinygrad_lm.cli.build_parser()`, and the table of training settings is read from the
`TrainConfig` dataclass and its GPTConfig (their fields, types, defaults, and each field's
meaning as `tinygrad_lm.nn.options.field_help` reads it, the text `train --help` prints). A flag
added to the parser or a field added to the config appears on the next build; one removed
disappears.
"""

from __future__ import annotations

import argparse
import dataclasses


def _subcommands(parser: argparse.ArgumentParser, prefix: str):
    """(full command, its parser) for `parser` and every sub-command under it, depth first."""
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subcommands(sub, f"{prefix} {name}")


def _help_text(parser: argparse.ArgumentParser) -> str:
    # A fixed width, so the page does not depend on the terminal that built it.
    parser.formatter_class = lambda prog: argparse.HelpFormatter(prog, width=96)
    return parser.format_help()


def _default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        return repr(f.default)
    if f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
        return "(see below)" if dataclasses.is_dataclass(value) else repr(value)
    return "(required)"


def _type_name(f: dataclasses.Field) -> str:
    return f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def config_tables(cls, heading: str, level: int = 3, instance=None) -> list[str]:
    """A Markdown table of `cls`'s fields, then one for each nested dataclass field.

    `instance`, when given, supplies the defaults (a nested config's defaults are those of the
    value its parent's factory makes, not the nested class's own)."""
    from tinygrad_lm.nn.options import field_help

    meanings = field_help(cls)
    lines = [f"{'#' * level} {heading}", "", "| field | type | default | meaning |",
             "|---|---|---|---|"]
    nested = []
    for f in dataclasses.fields(cls):
        if not f.init or f.name == "extra":
            continue
        default = _default(f) if instance is None else repr(getattr(instance, f.name))
        lines.append(f"| `{f.name}` | `{_type_name(f)}` | `{_cell(default)}` | "
                     f"{_cell(meanings[f.name])} |")
        if f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
            if dataclasses.is_dataclass(value):
                nested.append((f.name, value))
    for name, value in nested:
        lines.append("")
        lines += config_tables(type(value), f"`{heading.strip('`')}.{name}` "
                               f"({type(value).__name__})", level + 1, instance=value)
    return lines


def cli_markdown() -> str:
    """The whole CLI reference page."""
    from tinygrad_lm import cli
    from tinygrad_lm.training import config

    parser = cli.build_parser()
    prog = parser.prog
    out = ["# Command-line reference", "",
           f"Generated when the site is built from `tinygrad_lm.cli.build_parser()` and "
           f"`tinygrad_lm.training.config.TrainConfig`, so it always matches the installed "
           f"`{prog}`. "
           f"The same text is printed by `{prog} COMMAND --help`; `python -m tinygrad_lm` is "
           f"the same program.", ""]
    for command, sub in _subcommands(parser, prog):
        out += [f"## `{command}`", "", "```text", _help_text(sub).rstrip(), "```", ""]
    out += ["## Training settings", "",
            f"`{prog} train` accepts every field below as `--field=value` (or `--field value`); "
            "a flag of the wrong type, or an unknown one, is refused with the list of valid "
            "keys. Presets (`--preset NAME`) set several fields at once: "
            + ", ".join(f"`{name}`" for name in sorted(getattr(config, "PRESETS", {}))) + ".",
            ""]
    out += config_tables(config.TrainConfig, "`TrainConfig`")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(cli_markdown())
