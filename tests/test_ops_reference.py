"""The op reference page, docs/ops.md, is generated from the ops' docstrings; the committed
page must be what the generator writes now, and it must list every op class."""

from tinygrad_lm.autograd import FUNCTION_REGISTRY
from tinygrad_lm.ops import reference_page


def test_committed_op_reference_is_up_to_date():
    assert reference_page.PAGE.read_text(encoding="utf-8") == reference_page.reference_markdown(), (
        "docs/ops.md is stale: run `python -m tinygrad_lm.ops.reference_page` and commit it")


def test_op_reference_lists_every_op_class():
    page = reference_page.reference_markdown()
    missing = [name for name, cls in FUNCTION_REGISTRY.items()
               if cls.__module__.startswith("tinygrad_lm.ops.") and f"| `{cls.__name__}` |"
               not in page]
    assert not missing, f"op classes missing from the reference: {missing}"
