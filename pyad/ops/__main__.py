"""python -m pyad.ops: print the op coverage table (pyad.ops.coverage()) as Markdown."""

from pyad.ops import format_table

print(format_table(), end="")
