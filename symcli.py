"""The `sym` command's entry point.

It lives outside the `dsl` package so that Ctrl-C while `dsl` and its
libraries are being imported (a noticeable part of a second) ends with one
line, as it does later, and not with a traceback. Everything else is
`dsl.cli.main`.
"""
import sys


def main() -> int:
    try:
        from dsl.cli import main as cli_main     # inside the try: Ctrl-C while it loads exits quietly
    except KeyboardInterrupt:
        print("sym: interrupted", file=sys.stderr)
        return 130
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
