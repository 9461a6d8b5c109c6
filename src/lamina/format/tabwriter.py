"""Go's text/tabwriter, as docker's tables use it (imports nothing: the fast CLI path uses it).

Seed 001's real outputs show docker's classic ``NewWriter(out, 20, 1, 3, ' ', 0)``: columns at
least 20 wide, three spaces after the widest cell.
"""


__all__ = ["tabwrite", "MIN_WIDTH", "PADDING"]

MIN_WIDTH = 20
PADDING = 3


def tabwrite(chunks: list[str] | tuple[str, ...], minwidth: int = MIN_WIDTH, tabwidth: int = 1, padding: int = PADDING) -> str:
    """Go's text/tabwriter (padchar ' ', no flags) over the concatenation of ``chunks``."""
    text = "".join(chunks)
    lines = [line.split("\t") for line in text.split("\n")]
    out: list[str] = []
    widths: list[int] = []

    def write_lines(line0: int, line1: int) -> None:
        for i in range(line0, line1):
            cells = lines[i]
            for j, cell in enumerate(cells):
                out.append(cell)
                if j < len(widths) and j < len(cells) - 1:
                    out.append(" " * (widths[j] - len(cell)))
            if i < len(lines) - 1:
                out.append("\n")

    def format_block(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            format_block(line0, this)
            widths.pop()
            line0 = this
        write_lines(line0, line1)

    format_block(0, len(lines))
    return "".join(out)
