"""The CDXJ sort key is the key pywb looks captures up by: byte for byte ``surt.surt(url)``, as
pywb and cdxj-indexer compute it, for any URL a crawl can meet."""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import surt

from archive.warc.sortkey import surt_key

URLS = [
    # plain, case, trailing slashes
    "http://example.com", "http://example.com/", "https://Example.COM/Path/To/Page.HTML",
    "http://example.com/dir/", "http://example.com/dir//", "http://example.com//a//b//",
    "HTTP://EXAMPLE.COM/", "HtTpS://example.com/a", "http://example.com.", "http://.example.com/",
    "http://ex..ample.com/", "http://ex...ample.com/x", "http://.../x", "http://..",
    # www prefixes
    "http://www.example.com/", "http://www2.example.com/", "http://www123.example.com/a",
    "http://wwwexample.com/", "http://www.www.example.com/", "http://WWW.Example.com/",
    "http://www./", "http://www.com/", "http://sub.www.example.com/", "https://www.rijksoverheid.nl/",
    # ports
    "http://example.com:80/", "http://example.com:8080/", "https://example.com:443/x",
    "https://example.com:80/", "http://example.com:443/", "http://example.com:/", "http://example.com::/",
    "http://example.com:0/", "http://example.com:65535/", "http://example.com:65536/",
    "http://example.com:http/", "http://example.com:8o/", "http://127.0.0.1:8000/a?b=1",
    "ftp://example.com:21/file", "http://example.com:080/", "http://example.com:80:90/",
    # userinfo
    "http://user@example.com/", "http://user:pass@example.com:8080/x", "http://user:p%40ss@example.com/",
    "http://a@b@example.com/", "http://@example.com/", "https://user:pw@WWW.Example.com:443/",
    # IDN and non-ASCII
    "http://bücher.de/", "http://BÜCHER.de/", "http://xn--bcher-kva.de/", "http://münchen.de/straße",
    "http://例え.テスト/パス", "http://%E4%BE%8B.jp/", "http://ex%41mple.com/", "http://ex%2541mple.com/",
    "http://" + "ü" * 70 + ".de/", "http://a.\u00e9\u0301.com/", "http://\u2603.net/x?y=\u2603",
    "http://example.com/ünïcode?q=é", "http://example.com/%C3%BC", "http://example.com/%c3%bc",
    # percent escapes
    "http://example.com/a%20b", "http://example.com/a b", "http://example.com/a%2520b",
    "http://example.com/%7Euser", "http://example.com/%zz", "http://example.com/100%",
    "http://example.com/a%2Fb", "http://example.com/%23frag", "http://example.com/?q=%26&r=%3D",
    "http://example.com/?q=a%20b", "http://example.com/?q=a+b", "http://example.com/%00%01%7F",
    "http://example.com/\x01\x7f", "http://example.com/\"<>\\^`{|}",
    # query ordering
    "http://example.com/?b=2&a=1", "http://example.com/?a=2&a=1", "http://example.com/?a&a=",
    "http://example.com/?a=&a", "http://example.com/?B=1&a=2", "http://example.com/?z&y&x",
    "http://example.com/?a=1&&b=2", "http://example.com/?&", "http://example.com/?=", "http://example.com/?",
    "http://example.com/??", "http://example.com/?a=1?b=2", "http://example.com/path?x=1#frag",
    "http://example.com?x=1", "http://example.com#frag", "http://example.com/#", "http://example.com/?#",
    "http://example.com/?a=b=c&a=b", "http://example.com/?Q=UPPER&q=lower",
    # dot segments
    "http://example.com/a/./b", "http://example.com/a/../b", "http://example.com/../a",
    "http://example.com/a/b/../../..", "http://example.com/a/%2E%2E/b", "http://example.com/.",
    "http://example.com/a/..", "http://example.com/a//../b", "http://example.com/./",
    # session ids
    "http://example.com/?jsessionid=0123456789abcdef0123456789ABCDEF",
    "http://example.com/?a=1&jsessionid=0123456789abcdef0123456789abcdef&b=2",
    "http://example.com/x;jsessionid=0123456789abcdef0123456789abcdef",
    "http://example.com/?PHPSESSID=0123456789abcdef0123456789abcdef",
    "http://example.com/?sid=0123456789abcdef0123456789abcdef&z=1",
    "http://example.com/?ASPSESSIONIDABCDEFGH=ABCDEFGHIJKLMNOPQRSTUVWX",
    "http://example.com/?cfid=123&cftoken=456&x=1", "http://example.com/?CFID=1&CFTOKEN=2",
    "http://example.com/(S(0123456789abcdefghijklmn))/page.aspx",
    "http://example.com/dir/(a(0123456789abcdefghijklmn)f(0123456789abcdefghijklmn))/x/Page.aspx?q",
    "http://example.com/(0123456789abcdefghijklmn)/default.aspx",
    "http://example.com/(0123456789abcdefghijklmn)/default.html",
    # IP addresses and numbers
    "http://127.0.0.1/", "http://192.168.1.1:8080/x", "http://3232235777/", "http://0x7f000001/",
    "http://0177.0.0.1/", "http://1.2.3/", "http://1.2/", "http://999.1.1.1/", "http://1.2.3.08/",
    "http://010.010.010.010/", "http://00/", "http://0/", "http://4294967297/", "http://1.2.3.4.5/",
    "http://[::1]/", "http://[::1]:8080/a", "http://[2001:DB8::1]/", "http://[fe80::1%25eth0]/",
    # schemes, odd forms
    "example.com", "example.com/path", "//example.com/x", "www.example.com:8080/x",
    "http:example.com/x", "http:/example.com/x", "http:////www.example.com/a", "http://", "http:///",
    "https://https://example.com/", "http://http://example.com/x", "https://http://www.example.com",
    "ftp://ftp.example.com/pub/", "dns:www.example.com", "dns://www.example.com",
    "mailto:Someone@Example.COM", "urn:uuid:6E8BC430-9C3A-11D9-9669-0800200C9A66",
    "data:text/plain,Hello%20World", "javascript:void(0)", "about:blank", "file:///etc/passwd",
    "filedesc:foo.arc.gz", "filedescription", "metadata://example.com/crawl-log",
    "whois://whois.example.com/x", "screenshot-http://example.com/", "h.t.t.p://x/",
    "1http://example.com/", "http://example.com/\t\n\rx", "  http://example.com/  ",
    "\thttp://example.com/\n", " ", "", "?", "#", "/", "http", "http:", "http:/",
    "http://exa mple.nl/pad", "http://example.com/a\x0bb", "http://ex\x00ample.com/",
    "http://example.com/" + "a" * 3000, "http://" + "a." * 200 + "nl/",
]


def _ours_and_theirs(url: str) -> tuple[str, str]:
    try:
        theirs = surt.surt(url)
    except Exception:  # noqa: BLE001 - as cdxj-indexer does: no SURT, the URL is its own key
        theirs = url
    return surt_key(url), theirs


@pytest.mark.parametrize("url", URLS)
def test_key_is_surts(url: str) -> None:
    ours, theirs = _ours_and_theirs(url)
    assert ours == theirs


def test_generated_urls() -> None:
    """Combinations of the parts above, so no pairing of features is left to chance."""
    schemes = ["http://", "https://", "HTTP://", ""]
    userinfo = ["", "u:p@"]
    hosts = ["example.com", "WWW.Ex.NL", "www3.a.b", "bücher.de", "10.0.0.1", "%77ww.x.org",
             "x..y.", "[::1]", "3232235777"]
    ports = ["", ":80", ":443", ":8080", ":"]
    paths = ["", "/", "/A/B/", "/a/./b/../c", "//x//", "/%7e%41%2f", "/é ü", "/x.aspx"]
    queries = ["", "?", "?b=1&A=2", "?a&a=&b=%20", "?q=%2526", "?sid=0123456789abcdef0123456789abcdef"]
    fragments = ["", "#f"]
    mismatches = []
    for parts in itertools.product(schemes, userinfo, hosts, ports, paths, queries, fragments):
        url = "".join(parts)
        ours, theirs = _ours_and_theirs(url)
        if ours != theirs:
            mismatches.append((url, ours, theirs))
    assert mismatches == []


def test_random_urls() -> None:
    """Random strings over the bytes that matter to a SURT (fixed seed: the same run each time)."""
    rng = random.Random(13)
    alphabet = "aZ09.-_~:/?#[]@!$&'()*+,;=%% \t\x7fé€ü中wW" + "%2e%2F%41%25%c3%bc%20"
    mismatches = []
    for _ in range(5000):
        body = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        url = rng.choice(["http://", "https://", "", "http://www.", "ftp://"]) + body
        ours, theirs = _ours_and_theirs(url)
        if ours != theirs:
            mismatches.append((url, ours, theirs))
    assert mismatches[:5] == []


def test_our_index_keys_match_cdxj_indexer(tmp_path: Path) -> None:
    """The CDXJ our writer makes while writing a WARC has cdxj-indexer's keys for that WARC."""
    from archive.warc.writer import WarcWriter

    urls = ["http://www.Example.com:80/A/B/?z=1&a=2", "https://bücher.de/straße/",
            "http://127.0.0.1:8000/x/../y?sid=0123456789abcdef0123456789abcdef",
            "http://example.com/a%20b%2Fc/", "https://WWW2.example.nl/(0123456789abcdefghijklmn)/p.aspx",
            "http://user:pw@example.com/?b&a=%41#top", "http://[::1]:8080/"]
    response = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nok"
    date = datetime(2026, 12, 1, 8, 38, 44, tzinfo=UTC)
    with WarcWriter(tmp_path / "warcs", prefix="T", max_size=10**9, warcinfo={"operator": "t"},
                    index_dir=tmp_path / "idx") as writer:
        for url in urls:
            writer.write_exchange(url=url, request=b"GET / HTTP/1.1\r\n\r\n", response=response,
                                  ip="127.0.0.1", date=date)
    [warc] = writer.closed_files
    assert warc.cdxj_path is not None
    ours = sorted(line.split(" ", 2)[:2] for line in warc.cdxj_path.read_text().splitlines())
    indexer = Path(sys.executable).with_name("cdxj-indexer")
    out = subprocess.run([str(indexer), str(warc.path)], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    theirs = sorted(line.split(" ", 2)[:2] for line in out.splitlines()
                    if json.loads(line.split(" ", 2)[2]).get("mime") != "warc/request")
    assert len(ours) == len(urls)
    assert ours == theirs


def test_no_tldextract_in_sys_modules() -> None:
    """Making a key imports neither tldextract nor a stand-in for it."""
    code = ("import sys; from archive.warc.sortkey import surt_key; surt_key('http://a.nl/');"
            "print('tldextract' in sys.modules, 'surt' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         check=True, cwd=Path(__file__).resolve().parents[1]).stdout
    assert out.split() == ["False", "False"]
