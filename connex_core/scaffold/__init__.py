"""``connex plugins new NAME``: write a ready connector distribution from the templates shipped here.

The templates (``template/``, package data) are plain files with ``{{placeholders}}`` and
``#{{if FLAG}}`` ... ``#{{end}}`` blocks kept only when the flag is on (``webhooks``, ``oauth``,
``apikey`` = not oauth). What they make:
a pyproject with the ``connex`` entry point, a connector with typed settings and options built only
from :mod:`connex_core.api`, a simulator on the sandbox base, contract tests that pass as written, and
a README with the connection and options tables to fill in.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import UsageError

NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_BLOCK = re.compile(r"^#\{\{if (\w+)\}\}\n(.*?)^#\{\{end\}\}\n", re.S | re.M)


@dataclass(frozen=True)
class Scaffold:
    name: str
    webhooks: bool = False
    oauth: bool = False

    @property
    def values(self) -> dict[str, str]:
        from .. import __version__

        core = __version__.split("+")[0]
        return {
            "name": self.name,
            "NAME": self.name.upper(),
            "Name": "".join(part.capitalize() for part in self.name.split("_")),
            "title": " ".join(part.capitalize() for part in self.name.split("_")),
            "package": f"connex_{self.name}",
            "dist": f"connex-{self.name.replace('_', '-')}",
            "core_version": core if core != "0.0.0" else "0.1.0",
        }

    def render(self, text: str) -> str:
        flags = {"webhooks": self.webhooks, "oauth": self.oauth, "apikey": not self.oauth}

        def block(m: re.Match) -> str:
            if m.group(1) not in flags:
                raise KeyError(f"unknown template flag {m.group(1)!r}")
            return m.group(2) if flags[m.group(1)] else ""

        values = self.values
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], _BLOCK.sub(block, text))

    def files(self) -> dict[str, str]:
        """``{relative path: content}`` of the distribution."""
        root = resources.files(__package__) / "template"
        out: dict[str, str] = {}
        for path, item in _walk(root, ""):
            if (path == "tests/test_webhooks.py.tmpl" and not self.webhooks) or \
                    (path == "tests/test_oauth.py.tmpl" and not self.oauth):
                continue
            target = path.removesuffix(".tmpl").replace("package/", self.values["package"] + "/", 1)
            out[target] = self.render(item.read_text(encoding="utf-8"))
        return out


def _walk(node, prefix: str):
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        rel = f"{prefix}{child.name}"
        if child.is_dir():
            if child.name != "__pycache__":
                yield from _walk(child, rel + "/")
        elif child.name.endswith(".tmpl"):
            yield rel, child


def check_name(name: str) -> str:
    if not NAME.match(name) or keyword.iskeyword(name):
        raise UsageError(f"plugin name {name!r}: use 2 to 40 lower-case letters, digits and underscores, starting with "
                         f"a letter (it becomes the connector's type, the package connex_NAME and the distribution "
                         f"connex-NAME)")
    return name


def write(name: str, parent: Path, *, webhooks: bool = False, oauth: bool = False) -> Path:
    """Write the distribution ``connex-NAME`` into ``parent``; returns its folder. Refuses to overwrite."""
    scaffold = Scaffold(check_name(name), webhooks=webhooks, oauth=oauth)
    folder = Path(parent) / scaffold.values["dist"]
    if folder.exists() and any(folder.iterdir()):
        raise UsageError(f"{folder} exists and is not empty: choose another --path or remove it")
    for rel, content in scaffold.files().items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return folder
