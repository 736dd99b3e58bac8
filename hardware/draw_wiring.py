"""Draw hardware/wiring.png: the belt board's wiring (ESP32 pins; AVR pins in brackets).

Run from the repository root:  QT_QPA_PLATFORM=offscreen python hardware/draw_wiring.py
Uses PySide6 (already a dependency) so no plotting package is needed.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QPainter, QPen

OUT = Path(__file__).resolve().parent / "wiring.png"
W, H = 1400, 960
RED, BLACK, BLUE, GREEN = (QColor("#c62828"), QColor("#222222"), QColor("#1565c0"),
                           QColor("#2e7d32"))

# Board pins: name, y position, colour of the wire that leaves it.
PINS = [("3V3  [5V]", 130, RED), ("GPIO36  [A0]  belt A", 250, BLUE),
        ("GPIO39  [A1]  belt B", 480, BLUE), ("GPIO34  [A2]  pulse A", 650, GREEN),
        ("GPIO35  [A3]  pulse B", 720, GREEN), ("GND", 820, BLACK)]
BOARD_X = 80
PIN_X = 400  # right edge of the board box, where wires start


def wire(p: QPainter, colour: QColor, *points: tuple[float, float]) -> None:
    p.setPen(QPen(colour, 4))
    for a, b in itertools.pairwise(points):
        p.drawLine(QPointF(*a), QPointF(*b))
    p.setBrush(colour)
    p.drawEllipse(QPointF(*points[-1]), 5, 5)
    p.drawEllipse(QPointF(*points[0]), 5, 5)


def resistor(p: QPainter, x: float, y0: float, y1: float, label: str) -> None:
    """Vertical zig-zag between y0 and y1 at x."""
    p.setPen(QPen(BLACK, 3))
    mid, h = (y0 + y1) / 2, 50
    p.drawLine(QPointF(x, y0), QPointF(x, mid - h / 2))
    pts = [QPointF(x + (12 if i % 2 else -12) * (0 < i < 7), mid - h / 2 + i * h / 7)
           for i in range(8)]
    for a, b in itertools.pairwise(pts):
        p.drawLine(a, b)
    p.drawLine(QPointF(x, mid + h / 2), QPointF(x, y1))
    p.drawText(QPointF(x + 20, mid + 6), label)


def capacitor(p: QPainter, x: float, y0: float, y1: float, label: str) -> None:
    p.setPen(QPen(BLACK, 3))
    mid = (y0 + y1) / 2
    p.drawLine(QPointF(x, y0), QPointF(x, mid - 6))
    p.drawLine(QPointF(x - 16, mid - 6), QPointF(x + 16, mid - 6))
    p.drawLine(QPointF(x - 16, mid + 6), QPointF(x + 16, mid + 6))
    p.drawLine(QPointF(x, mid + 6), QPointF(x, y1))
    p.drawText(QPointF(x + 22, mid + 6), label)


def ground(p: QPainter, x: float, y: float) -> None:
    p.setPen(QPen(BLACK, 3))
    for i, half in enumerate((16, 10, 4)):
        p.drawLine(QPointF(x - half, y + 6 * i), QPointF(x + half, y + 6 * i))


def belt(p: QPainter, y_sig: float, name: str, r_x: float, c_x: float) -> None:
    """Jack + belt: tip to supply, ring to the ADC pin; divider R and filter C to GND."""
    jack = QRectF(900, y_sig - 95, 150, 120)
    p.setPen(QPen(BLACK, 3))
    p.setBrush(QColor("#eeeeee"))
    p.drawRect(jack)
    p.drawText(QPointF(jack.left(), jack.top() - 8), "3.5 mm jack")
    p.drawText(QPointF(jack.left() + 10, y_sig - 62), "tip  (supply)")
    p.drawText(QPointF(jack.left() + 10, y_sig + 5), "ring (signal)")
    wire(p, RED, (PIN_X, 130), (860, 130), (860, y_sig - 70), (jack.left(), y_sig - 70))
    wire(p, BLUE, (PIN_X, y_sig), (jack.left(), y_sig))
    # the belt itself: a stretch cord between tip and ring
    p.setPen(QPen(QColor("#6d4c41"), 10, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    p.drawArc(QRectF(1050 - 130, y_sig - 70, 260, 70), -90 * 16, 180 * 16)
    p.setPen(QPen(BLACK, 2))
    p.drawText(QPointF(1160, y_sig + 40), name)
    bottom = y_sig + 120
    resistor(p, r_x, y_sig, bottom, "R 1 kΩ*")
    capacitor(p, c_x, y_sig, bottom, "C 10 µF")
    p.setBrush(BLACK)
    for x in (r_x, c_x):
        p.drawEllipse(QPointF(x, y_sig), 5, 5)
        ground(p, x, bottom)


def pulse(p: QPainter, y_sig: float, name: str) -> None:
    box = QRectF(900, y_sig - 22, 300, 44)
    p.setPen(QPen(BLACK, 3))
    p.setBrush(QColor("#e8f5e9"))
    p.drawRect(box)
    p.drawText(box, Qt.AlignmentFlag.AlignCenter, name + "  (S, +, −)")
    wire(p, GREEN, (PIN_X, y_sig), (box.left(), y_sig))


def draw() -> QImage:
    image = QImage(W, H, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setFont(QFont("DejaVu Sans", 15))
    p.setPen(QPen(BLACK, 3))
    p.setBrush(QColor("#fff8e1"))
    p.drawRect(QRectF(BOARD_X, 60, PIN_X - BOARD_X, 800))
    p.setFont(QFont("DejaVu Sans", 20, QFont.Weight.Bold))
    p.drawText(QRectF(BOARD_X, 70, PIN_X - BOARD_X, 40), Qt.AlignmentFlag.AlignCenter,
               "ESP32  [Arduino Uno]")
    p.setFont(QFont("DejaVu Sans", 15))
    for name, y, _ in PINS:
        p.drawText(QRectF(BOARD_X + 10, y - 14, PIN_X - BOARD_X - 20, 28),
                   Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name)
    belt(p, 250, "belt A (person A)", 560, 720)
    belt(p, 480, "belt B (person B)", 560, 720)
    pulse(p, 650, "pulse sensor A")
    pulse(p, 720, "pulse sensor B")
    wire(p, BLACK, (PIN_X, 820), (470, 820), (470, 830))
    ground(p, 470, 836)
    p.setPen(QPen(BLACK, 1))
    notes = ["Ground symbols = board GND.  Pulse sensors: + to 3V3 [5V], − to GND (not drawn).",
             ("* R ≈ √(R_relaxed · R_stretched) of your belt (see hardware/README.md). "
             "Wire both belts the same way round."),
             ("Laptop on battery, or a USB isolator, whenever the person touches "
             "mains-powered equipment.")]
    for i, line in enumerate(notes):
        p.drawText(QPointF(BOARD_X, 895 + 24 * i), line)
    p.setFont(QFont("DejaVu Sans", 22, QFont.Weight.Bold))
    p.drawText(QPointF(480, 40), "rapport_sync belt board: wiring")
    p.end()
    return image


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv)  # noqa: F841 - fonts need it
    if not draw().save(str(OUT)):
        print(f"could not write {OUT}", file=sys.stderr)
        return 1
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
