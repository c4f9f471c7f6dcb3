#!/usr/bin/env python3
"""Render a `tmux capture-pane -e -p` dump (text with SGR colour codes) to a PNG.

Used by scripts/screenshots.sh so the pictures in screenshots/ come from a
real terminal session, not from drawing by hand. Needs Pillow and a
monospace TTF (DejaVu Sans Mono from Debian's fonts-dejavu-core).

    ansi2png.py INPUT.ans OUTPUT.png --cols 100 --rows 30 [--cursor X,Y]
"""

import argparse
import re
import unicodedata

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu/"
FONT_SIZE = 16
PADDING = 12
DEFAULT_FG = (0xD4, 0xD4, 0xD4)
DEFAULT_BG = (0x1E, 0x1E, 0x1E)

# The 16 ANSI colours (a calm xterm-like palette).
BASE16 = [
    (0x00, 0x00, 0x00), (0xCD, 0x31, 0x31), (0x0D, 0xBC, 0x79), (0xE5, 0xE5, 0x10),
    (0x24, 0x72, 0xC8), (0xBC, 0x3F, 0xBC), (0x11, 0xA8, 0xCD), (0xE5, 0xE5, 0xE5),
    (0x66, 0x66, 0x66), (0xF1, 0x4C, 0x4C), (0x23, 0xD1, 0x8B), (0xF5, 0xF5, 0x43),
    (0x3B, 0x8E, 0xEA), (0xD6, 0x70, 0xD6), (0x29, 0xB8, 0xDB), (0xFF, 0xFF, 0xFF),
]


def colour256(n):
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    level = 8 + (n - 232) * 10
    return (level, level, level)


class Style:
    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None
        self.bg = None
        self.bold = False
        self.dim = False
        self.italic = False
        self.underline = False
        self.reverse = False

    def copy(self):
        other = Style()
        other.__dict__.update(self.__dict__)
        return other

    def apply(self, params):
        codes = [int(p) if p else 0 for p in params.split(";")] if params else [0]
        i = 0
        while i < len(codes):
            c = codes[i]
            if c == 0:
                self.reset()
            elif c == 1:
                self.bold = True
            elif c == 2:
                self.dim = True
            elif c == 3:
                self.italic = True
            elif c == 4:
                self.underline = True
            elif c == 7:
                self.reverse = True
            elif c == 22:
                self.bold = self.dim = False
            elif c == 23:
                self.italic = False
            elif c == 24:
                self.underline = False
            elif c == 27:
                self.reverse = False
            elif 30 <= c <= 37:
                self.fg = BASE16[c - 30]
            elif 90 <= c <= 97:
                self.fg = BASE16[c - 90 + 8]
            elif 40 <= c <= 47:
                self.bg = BASE16[c - 40]
            elif 100 <= c <= 107:
                self.bg = BASE16[c - 100 + 8]
            elif c == 39:
                self.fg = None
            elif c == 49:
                self.bg = None
            elif c in (38, 48) and i + 1 < len(codes):
                if codes[i + 1] == 5 and i + 2 < len(codes):
                    colour = colour256(codes[i + 2])
                    i += 2
                elif codes[i + 1] == 2 and i + 4 < len(codes):
                    colour = tuple(codes[i + 2:i + 5])
                    i += 4
                else:
                    colour = None
                if c == 38:
                    self.fg = colour
                else:
                    self.bg = colour
            i += 1

    def colours(self):
        fg = self.fg or DEFAULT_FG
        bg = self.bg or DEFAULT_BG
        if self.reverse:
            fg, bg = bg, fg
        if self.dim:
            fg = tuple((a + b) // 2 for a, b in zip(fg, bg))
        return fg, bg


SGR = re.compile(r"\x1b\[([0-9;]*)m")
OTHER_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-ln-z]")


def parse(text, cols, rows):
    """Grid of (char, Style) cells."""
    grid = [[(" ", Style()) for _ in range(cols)] for _ in range(rows)]
    style = Style()
    for y, line in enumerate(text.split("\n")[:rows]):
        line = OTHER_ESCAPE.sub("", line)
        x = 0
        pos = 0
        while pos < len(line):
            m = SGR.match(line, pos)
            if m:
                style.apply(m.group(1))
                pos = m.end()
                continue
            ch = line[pos]
            pos += 1
            if x < cols:
                grid[y][x] = (ch, style.copy())
            wide = unicodedata.east_asian_width(ch) in ("W", "F")
            x += 2 if wide else 1
    return grid


# Box-drawing characters are drawn as lines so frames join up whatever the
# font's line height: (left, right, up, down) arms from the cell centre.
BOX = {
    "─": (1, 1, 0, 0), "━": (1, 1, 0, 0), "│": (0, 0, 1, 1), "┃": (0, 0, 1, 1),
    "┌": (0, 1, 0, 1), "╭": (0, 1, 0, 1), "┐": (1, 0, 0, 1), "╮": (1, 0, 0, 1),
    "└": (0, 1, 1, 0), "╰": (0, 1, 1, 0), "┘": (1, 0, 1, 0), "╯": (1, 0, 1, 0),
    "├": (0, 1, 1, 1), "┤": (1, 0, 1, 1), "┬": (1, 1, 0, 1), "┴": (1, 1, 1, 0),
    "┼": (1, 1, 1, 1),
}


def draw_box(draw, ch, px, py, cell_w, cell_h, fg):
    left, right, up, down = BOX[ch]
    cx = px + cell_w // 2
    cy = py + cell_h // 2
    if left:
        draw.line([px, cy, cx, cy], fill=fg)
    if right:
        draw.line([cx, cy, px + cell_w - 1, cy], fill=fg)
    if up:
        draw.line([cx, py, cx, cy], fill=fg)
    if down:
        draw.line([cx, cy, cx, py + cell_h - 1], fill=fg)


def render(grid, cols, rows, cursor, out):
    regular = ImageFont.truetype(FONT_DIR + "DejaVuSansMono.ttf", FONT_SIZE)
    bold = ImageFont.truetype(FONT_DIR + "DejaVuSansMono-Bold.ttf", FONT_SIZE)
    cell_w = round(regular.getlength("M"))
    ascent, descent = regular.getmetrics()
    cell_h = ascent + descent + 2
    width = cols * cell_w + 2 * PADDING
    height = rows * cell_h + 2 * PADDING
    image = Image.new("RGB", (width, height), DEFAULT_BG)
    draw = ImageDraw.Draw(image)
    for y, row in enumerate(grid):
        for x, (ch, style) in enumerate(row):
            fg, bg = style.colours()
            px = PADDING + x * cell_w
            py = PADDING + y * cell_h
            if cursor == (x, y):
                fg, bg = bg, fg
            if bg != DEFAULT_BG:
                draw.rectangle([px, py, px + cell_w - 1, py + cell_h - 1], fill=bg)
            if ch in BOX:
                draw_box(draw, ch, px, py, cell_w, cell_h, fg)
            elif ch != " ":
                font = bold if style.bold else regular
                draw.text((px, py + 1), ch, font=font, fill=fg)
            if style.underline:
                draw.line([px, py + cell_h - 2, px + cell_w - 1, py + cell_h - 2], fill=fg)
    image.save(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--cols", type=int, default=100)
    parser.add_argument("--rows", type=int, default=30)
    parser.add_argument("--cursor", help="X,Y of a visible cursor")
    args = parser.parse_args()
    with open(args.input, encoding="utf-8", errors="replace") as f:
        text = f.read()
    cursor = tuple(int(v) for v in args.cursor.split(",")) if args.cursor else None
    render(parse(text, args.cols, args.rows), args.cols, args.rows, cursor, args.output)


if __name__ == "__main__":
    main()
