"""The ``bewaar`` console script (also ``python -m bewaar.cli.main``).

It imports almost nothing itself: for ``bewaar crawl`` it first starts the crawl worker, which
then imports Scrapy on one core while the command line imports itself on the other. It exits
through the interpreter's normal shutdown minus its garbage collections (``archive.exit``).
"""

from __future__ import annotations

import sys


def _runs_a_crawl(args: list[str]) -> bool:
    return bool(args) and args[0] == "crawl" and not {"-h", "--help"} & set(args)


def main() -> None:
    if _runs_a_crawl(sys.argv[1:]):
        from crawler.prestart import prestart

        prestart()
    from archive.exit import exit_now
    from bewaar.cli.app import run

    try:
        run()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    exit_now(code)


if __name__ == "__main__":
    main()
