"""The Lark grammar of the Connex rule language, shipped inside the wheel as ``connex_core.grammar``.

The folder is the project's top-level ``grammar/`` (see the package-dir mapping in pyproject.toml);
load the text with ``importlib.resources.files("connex_core.grammar") / "rules.lark"``.
"""
