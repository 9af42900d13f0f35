"""The one line that refuses `snakemake --config`/`--configfile` (workflow/rules/common.smk).

params.yaml is the one source of settings for both runners: a value given to Snakemake
alone would make its results differ from DVC's. The refusal names each key given, says
whether params.yaml has it (or the key meant), and gives the command that tries exactly
that value as a DVC experiment.
"""

from __future__ import annotations

import difflib

import yaml

SMOKE = "a quick run on few images and epochs: cd studies/smoke && snakemake --cores 2"


def _dotted(tree, prefix: str = "") -> dict[str, object]:
    """{"train": {"epochs": 3}} -> {"train.epochs": 3}; a list or scalar is a leaf."""
    if not isinstance(tree, dict) or not tree:
        return {prefix: tree}
    pairs: dict[str, object] = {}
    for key, value in tree.items():
        pairs.update(_dotted(value, f"{prefix}.{key}" if prefix else str(key)))
    return pairs


def _known_keys(params_path: str) -> dict[str, object]:
    try:
        with open(params_path, encoding="utf-8") as stream:
            return _dotted(yaml.safe_load(stream) or {})
    except (OSError, yaml.YAMLError):
        return {}  # params.yaml's own check names that problem next


def _suggestion(key: str, known: dict[str, object]) -> str:
    """The params.yaml key meant by `key`: its own, one ending in `.key`, or a close spelling."""
    if key in known or not known:
        return key
    endings = sorted((k for k in known if k.endswith("." + key)), key=lambda k: (k.count("."), k))
    if endings:
        return endings[0]
    close = difflib.get_close_matches(key, known, n=1)
    return close[0] if close else ""


def refusal(config: dict, params_path: str = "params.yaml") -> str:
    """The error line for the overrides `config` (what Snakemake parsed from --config or --configfile)."""
    known = _known_keys(params_path)
    given = _dotted(config)
    parts = []
    for key, value in list(given.items())[:3]:
        meant = _suggestion(key, known)
        shown = value if isinstance(value, str) else yaml.safe_dump(value, default_flow_style=True, width=1000)
        shown = str(shown).strip().removesuffix("...").strip()
        if meant == key:
            parts.append(f"dvc exp run -S '{key}={shown}'")
        elif meant:
            parts.append(f"params.yaml has no key {key}, did you mean {meant}? dvc exp run -S '{meant}={shown}'")
        else:
            parts.append(f"params.yaml has no key {key} (its keys: docs/parameters.md)")
    names = ", ".join(list(given)[:3]) + (f" and {len(given) - 3} more" if len(given) > 3 else "")
    return (
        f"error: snakemake --config/--configfile is not read ({names}): params.yaml is the one source of "
        f"settings for both runners; change it there, or try the value as a DVC experiment: "
        + "; ".join(parts)
        + f" ({SMOKE})"
    )
