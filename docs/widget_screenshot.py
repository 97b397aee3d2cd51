"""Save the README's picture of the chat widget (docs/widget.png).

    .venv/bin/python docs/widget_screenshot.py [--out docs/widget.png]

Runs the widget's browser test that takes it (chat/tests/test_widget_browser.py::test_screenshot_for_the_readme):
a shop page on another origin embeds the widget with a publishable key, asks a question, gets a streamed, cited
answer from the fake OpenAI server and gives it a thumbs up. The test suite's database and fixtures do the setup,
so this needs what `make test` needs, plus Debian's `chromium` package.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "widget.png")
    out = parser.parse_args().out.resolve()
    out.unlink(missing_ok=True)
    environment = {**os.environ, "MINIRAG_WIDGET_SCREENSHOT": str(out)}
    test = "chat/tests/test_widget_browser.py::test_screenshot_for_the_readme"
    result = subprocess.run(
        [sys.executable, "-m", "minirag.launcher", "test", test, "-q", "-rs"], cwd=ROOT, env=environment, check=False
    )
    if result.returncode != 0 or not out.exists():
        print(f"no screenshot made (pytest exited {result.returncode})", file=sys.stderr)
        return 1
    print(f"saved {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
