#!/usr/bin/env python3
"""Plots a soak's RSS samples (t_s, rss_kb) as a self-contained SVG line chart (no libraries)."""
import sys

src, dst, title = sys.argv[1], sys.argv[2], sys.argv[3]
rows = [l.split() for l in open(src).read().splitlines()[1:] if l.strip()]
pts = [(float(t), int(k) / 1024) for t, k in rows]
if not pts:
    sys.exit(f"{src}: no samples")
w, h, left, right, top, bottom = 900, 360, 70, 20, 40, 50
tmax = max(t for t, _ in pts) or 1
ymax = max(300.0, max(m for _, m in pts) * 1.1)
x = lambda t: left + (w - left - right) * t / tmax
y = lambda m: h - bottom - (h - top - bottom) * m / ymax
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
       f'<rect width="{w}" height="{h}" fill="white"/>',
       f'<text x="{left}" y="22" font-size="14">{title}: fencepost RSS, sampled every 10 s (peak {max(m for _, m in pts):.1f} MB)</text>']
for i in range(6):
    m = ymax * i / 5
    out.append(f'<line x1="{left}" x2="{w-right}" y1="{y(m):.1f}" y2="{y(m):.1f}" stroke="#ddd"/>')
    out.append(f'<text x="{left-8}" y="{y(m)+4:.1f}" text-anchor="end">{m:.0f} MB</text>')
for i in range(7):
    t = tmax * i / 6
    out.append(f'<text x="{x(t):.1f}" y="{h-bottom+18}" text-anchor="middle">{t/60:.0f} min</text>')
out.append(f'<line x1="{left}" x2="{w-right}" y1="{y(300):.1f}" y2="{y(300):.1f}" stroke="#d62728" stroke-dasharray="6,4"/>')
out.append(f'<text x="{w-right}" y="{y(300)-6:.1f}" text-anchor="end" fill="#d62728">300 MB target</text>')
path = " ".join(f"{x(t):.1f},{y(m):.1f}" for t, m in pts)
out.append(f'<polyline fill="none" stroke="#4271c4" stroke-width="2" points="{path}"/>')
out.append(f'<text x="{(left+w-right)/2}" y="{h-12}" text-anchor="middle">time since the run started</text>')
out.append("</svg>")
open(dst, "w").write("\n".join(out) + "\n")
