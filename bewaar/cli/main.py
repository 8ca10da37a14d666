"""The ``bewaar`` console script (also ``python -m bewaar.cli.main``).

It imports almost nothing itself: for ``bewaar crawl`` it first starts the crawl worker, which
then imports Scrapy on one core while the command line imports itself on the other.
"""

from __future__ import annotations

import sys


def _runs_a_crawl(args: list[str]) -> bool:
    return bool(args) and args[0] == "crawl" and not {"-h", "--help"} & set(args)


def main() -> None:
    if _runs_a_crawl(sys.argv[1:]):
        from crawler.prestart import prestart

        prestart()
    from bewaar.cli.app import run

    run()


if __name__ == "__main__":
    main()
