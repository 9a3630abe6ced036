"""The command line, `python -m tinygrad_conv COMMAND`: one subcommand per file beside this one.

    explain     build a small conv with the scalar engine, print its equations, draw it   (viz/explain.py)
    worksheet   problems to work by hand and their answers, worked by the engine        (viz/worksheet.py)

The engine package only forwards to `main` here (tinygrad_conv/__main__.py),
so `tinygrad_conv` itself never imports viz. Every mistake on the command
line ends with one line on stderr and exit status 2, never a traceback.
"""
import argparse
import os
import sys

from . import explain, worksheet


class Parser(argparse.ArgumentParser):
    """argparse, but an error is one line on stderr (exit status 2) instead of usage plus the error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


COMMANDS = {"explain": explain, "worksheet": worksheet}


def make_parser():
    parser = Parser(prog="python -m tinygrad_conv",
                    description="See how a convolution filter gets its gradient, one multiply at a time.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name, module in COMMANDS.items():
        module.add_arguments(commands.add_parser(name, help=module.HELP, description=module.DESCRIPTION))
    return parser


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    subparser = parser._subparsers._group_actions[0].choices[args.command]
    try:
        return COMMANDS[args.command].run(args, subparser.error)
    except BrokenPipeError:  # `explain | head` closed the pipe: stop quietly, as other command-line tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
