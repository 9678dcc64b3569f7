"""docs/rules.md stays true: its field table is the generated one, and its rule examples check clean."""

from __future__ import annotations

import re

from connex_core.cli.rules import field_table_markdown
from connex_core.rules import check_text

from .conftest import ROOT

DOC = (ROOT / "docs" / "rules.md").read_text()


def test_field_table_is_generated_from_the_model():
    table = DOC.split("<!-- fields:start -->\n")[1].split("<!-- fields:end -->")[0]
    assert table == field_table_markdown(), "regenerate with: connex rules fields --markdown"


def rule_examples() -> list[str]:
    blocks = re.findall(r"```text\n(.*?)```", DOC, re.S)
    return [b for b in blocks if " -> " not in b and ": error:" not in b]


def test_rule_examples_in_the_docs_check_clean(manager):
    examples = rule_examples()
    assert len(examples) >= 2
    for n, text in enumerate(examples):
        # as if saved in rules/examples/, where the tables the examples name are (maps/sku.csv)
        rules, diags = check_text({str(ROOT / "rules" / "examples" / f"example{n}.rules"): text}, manager)
        assert rules and not [d for d in diags if d.is_error], (text, diags)


def test_the_checker_messages_quoted_in_the_docs_are_real(manager):
    quoted = re.findall(r"^rules/main\.rules:\d+:\d+: error: (.*)$", DOC, re.M)
    assert len(quoted) >= 6
    text = ("when order.numbr endswith '-1' then strip suffix\nwhen status == 'shiped' then skip\n"
            "when total endswith '0' then skip\nwhen amount_paid == '0' then skip\n"
            "when notes matches 'PO[0-9{4}' then skip\nwhen order_date > '2024-13-01' then skip\n"
            "when shipped then mark_partal\nwhen shipped and amount_paid == 0 mark unpaid\n")
    _, diags = check_text({"main.rules": text}, manager)
    messages = {d.message for d in diags}
    assert set(quoted) <= messages, set(quoted) - messages
