"""Fonts for Chinese labels and figures embedded as images; shared by the plotting modules."""

from __future__ import annotations

import warnings

import matplotlib
from matplotlib import font_manager

__all__ = ["CJK_FONTS", "png_img", "use_cjk_font"]

#: CJK fonts tried in order (Debian's fonts-noto-cjk first; scripts/debian-packages.txt).
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Micro Hei",
             "WenQuanYi Zen Hei", "SimHei", "Microsoft YaHei", "PingFang SC")


def png_img(fig, *, alt: str, dpi: int) -> str:
    """A matplotlib figure as an embedded ``<img>`` (a PNG data URI: nothing fetched) with its text
    alternative; the figure is closed."""
    import base64
    import html
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" style="max-width:100%">'


def use_cjk_font() -> str | None:
    """Make matplotlib draw Chinese text; return the font used, or None (with a warning)."""
    available = {f.name for f in font_manager.fontManager.ttflist}
    if not available & set(CJK_FONTS):
        # matplotlib's font cache predates the font's installation: add the system CJK fonts
        for path in font_manager.findSystemFonts():
            if any(tag in path.lower() for tag in ("cjk", "wqy", "wenquanyi")):
                font_manager.fontManager.addfont(path)
        available = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in available:
            sans = [n for n in matplotlib.rcParams["font.sans-serif"] if n != name]
            matplotlib.rcParams["font.sans-serif"] = [name, *sans]
            matplotlib.rcParams["font.family"] = "sans-serif"
            matplotlib.rcParams["axes.unicode_minus"] = False
            return name
    warnings.warn("No CJK font found: Chinese labels will show as boxes. Install fonts-noto-cjk "
                  "(make run does this on Debian).", stacklevel=2)
    return None


def _font_for(lang: str) -> None:
    """Chinese labels need a CJK font: switch to one (once) before drawing in Chinese."""
    if lang == "zh" and not _CJK_READY:
        _ready_cjk()


_CJK_READY = False


def _ready_cjk() -> None:
    global _CJK_READY
    _CJK_READY = use_cjk_font() is not None
