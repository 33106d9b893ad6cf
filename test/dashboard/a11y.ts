import type { Page } from "playwright-core";

/**
 * Accessibility basics, checked in the page itself: every form control has an accessible name,
 * and text is readable against its background (WCAG AA: 4.5:1, 3:1 for large text).
 * Returns what fails, described, so a test can show it.
 */
export async function unlabelledControls(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll("input, select, textarea, button")]
      .filter((el) => {
        const control = el as HTMLInputElement;
        if (control.type === "hidden") return false;
        const named =
          (control.labels?.length ?? 0) > 0 ||
          control.getAttribute("aria-label") ||
          control.getAttribute("aria-labelledby") ||
          (el.tagName === "BUTTON" && el.textContent?.trim());
        return !named;
      })
      .map((el) => el.outerHTML.slice(0, 120)),
  );
}

export async function lowContrastText(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const rgb = (text: string): [number, number, number, number] => {
      const parts = text.match(/[\d.]+/g)?.map(Number) ?? [0, 0, 0];
      return [parts[0]!, parts[1]!, parts[2]!, parts[3] ?? 1];
    };
    const luminance = ([r, g, b]: number[]) => {
      const lin = (c: number) => {
        const s = c / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * lin(r!) + 0.7152 * lin(g!) + 0.0722 * lin(b!);
    };
    const background = (el: Element | null): number[] => {
      for (let node = el; node; node = node.parentElement) {
        const color = rgb(getComputedStyle(node).backgroundColor);
        if (color[3] > 0.5) return color;
      }
      return [255, 255, 255, 1];
    };
    const failures: string[] = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (!el || !node.textContent?.trim()) continue;
      const style = getComputedStyle(el);
      const box = el.getBoundingClientRect();
      // Hidden text (the off-screen skip link, visually hidden captions) is not read by the eye.
      if (style.visibility === "hidden" || style.display === "none" || box.width <= 1 || box.left < 0) continue;
      if (el.closest(".u-legend, .u-axis")) continue; // uPlot draws its own axis text in the chart's colours
      const fg = luminance(rgb(style.color));
      const bg = luminance(background(el));
      const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
      const large =
        Number.parseFloat(style.fontSize) >= 24 ||
        (Number.parseFloat(style.fontSize) >= 18.6 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) failures.push(`${ratio.toFixed(2)}:1 "${node.textContent.trim().slice(0, 40)}"`);
    }
    return failures;
  });
}
