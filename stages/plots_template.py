"""Write the HTML template that `dvc plots show/diff` fill: Vega inlined, so the page works offline.

    python -m stages.plots_template workflow/report/dvc_plots.html

DVC's default page loads Vega, Vega-Lite and Vega-Embed from a CDN and shows
nothing without internet. This template carries them instead (from
vl-convert-python's bundle, pinned in uv.lock); `.dvc/config` names it as
`plots.html_template`. setup.sh writes it, as it is a build product of a
locked package, not a source file.
"""

from __future__ import annotations

import argparse
import sys

from stages.lib.files import write_text_if_changed

PAGE = """<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    {refresh_tag}
    <title>DVC plots</title>
    <script>
VEGA_BUNDLE
    </script>
    <style>
        body { font-family: sans-serif; }
        table { border-spacing: 15px; }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def template() -> str:
    import vl_convert

    bundle = vl_convert.javascript_bundle(
        "window.vegaEmbed = vegaEmbed; window.vega = vega; window.vegaLite = vegaLite;"
    )
    # Inside a <script> element the text must not close it; DVC fills {placeholders} by replace().
    bundle = bundle.replace("</script", "<\\/script")
    if any(f"{{{name}}}" in bundle for name in ("plot_divs", "scripts", "refresh_tag")):
        raise ValueError("the Vega bundle contains a DVC template placeholder")
    return PAGE.replace("VEGA_BUNDLE", bundle)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="where to write the template")
    args = parser.parse_args(argv)
    try:
        changed = write_text_if_changed(args.out, template())
    except OSError as err:  # a folder at --out, no permission
        print(f"error: {args.out}: {err.strerror}", file=sys.stderr)
        return 1
    print(f"{args.out}: {'written' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
