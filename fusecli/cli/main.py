"""The ``fusecli`` click group: global flags, logging, and one-line user errors."""

from __future__ import annotations

import logging
import signal
import sys
import traceback

import click

from fusecli import __version__
from fusecli.errors import FusecliError
from fusecli.cli.options import Settings


class FusecliGroup(click.Group):
    """Turns library errors into one clear line and an exit code (tracebacks only with -v).

    Exit codes: 0 success, 1 some items of a batch failed, 2 usage or input error,
    3 internal error (a bug: please report it with the ``-v`` traceback), 130 interrupted.
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except FusecliError as exc:
            if _verbose(ctx):
                traceback.print_exc()
            click.secho(f"error: {exc}", err=True, fg="red")
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.secho("interrupted: finished outputs are complete; run again to resume", err=True, fg="yellow")
            ctx.exit(130)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if _verbose(ctx):
                traceback.print_exc()
            click.secho(
                f"error: internal error ({type(exc).__name__}: {exc}); run with -v for the traceback", err=True, fg="red"
            )
            ctx.exit(3)


def _verbose(ctx: click.Context) -> bool:
    obj = ctx.find_object(Settings)
    return bool(obj and obj.verbose)


def _setup_logging(verbose: bool, quiet: bool) -> None:
    from rich.logging import RichHandler

    from fusecli.cli.progress import stderr_console

    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.WARNING
    # the progress bars' and spinner's console: warnings print above them, not into their line
    handler = RichHandler(console=stderr_console, show_time=verbose, show_path=verbose, markup=False)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("fusecli")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
    # tifffile logs its view of a damaged file; fusecli.imaging turns it into an error or a warning
    # that names the file, so it is printed only with -v
    tiff_logger = logging.getLogger("tifffile")
    tiff_logger.handlers[:] = [] if verbose else [logging.NullHandler()]
    tiff_logger.propagate = verbose


def _max_pixels(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``--max-pixels``: the pixel budget of every image read in this run, worker processes included."""
    if value is None:
        return
    import os

    from fusecli.imaging.header import ENV, parse_pixels

    try:
        os.environ[ENV] = str(parse_pixels(value))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.group(cls=FusecliGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="fusecli")
@click.option("-v", "--verbose", is_flag=True, help="Debug logs and full tracebacks on errors.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors; no progress bars.")
@click.option("--max-pixels", metavar="N", callback=_max_pixels, expose_value=False,
              help="Refuse images over N pixels (e.g. 500000000 or 500M) before decoding them; default 300M or $FUSECLI_MAX_PIXELS.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, quiet: bool) -> None:
    """Fuse several images of one scene into one better image.

    \b
    Tasks:
      vif  infrared + visible        fusecli fuse --ir ir.png --vis vis.jpg -o fused.png
      mef  exposure bracket (2+)     fusecli fuse dark.jpg mid.jpg bright.jpg -o hdr.jpg
      mff  near/far focus (2+)       fusecli fuse near.png far.png -o sharp.png

    Exit codes: 0 success, 1 some batch items failed, 2 usage or input error, 3 internal error.
    Shell completion: eval "$(_FUSECLI_COMPLETE=bash_source fusecli)" (zsh_source, fish_source).
    """
    if verbose and quiet:
        raise click.UsageError("-v/--verbose and -q/--quiet cannot be combined")
    ctx.obj = Settings(verbose=verbose, quiet=quiet)
    _setup_logging(verbose, quiet)
    signal.signal(signal.SIGTERM, _interrupt)  # a job scheduler's stop ends a run as Ctrl-C does: workers stopped, exit 130


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _register() -> None:
    from fusecli.cli import colorize, degrade, fuse, metrics, models, train

    for module in (degrade, fuse, train, metrics, colorize, models):
        cli.add_command(module.command)


_register()


def main() -> None:  # pragma: no cover - console entry point convenience
    cli(prog_name="fusecli")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
