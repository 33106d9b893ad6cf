import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

export interface Line {
  label: string;
  values: (number | null)[];
  color: string;
  dash?: number[];
  /** Draw each value as a point too: a sparse series (lateness) is then visible where one bucket has a value. */
  points?: boolean;
}

/** One uPlot time chart; the data is replaced in place as it is polled, the chart built once. */
export function TimeChart(props: { title: string; at: number[]; lines: Line[]; unit: string; id: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = props.lines.map((l) => l.label).join("|");
  const data = [props.at.map((ms) => ms / 1000), ...props.lines.map((l) => l.values)] as uPlot.AlignedData;

  useEffect(() => {
    if (!box.current) return;
    const width = Math.max(320, box.current.clientWidth || 600);
    plot.current = new uPlot(
      {
        width,
        height: 200,
        series: [
          {},
          ...props.lines.map((l) => ({
            label: l.label,
            stroke: l.color,
            width: 2,
            dash: l.dash,
            spanGaps: false,
            points: { show: l.points ?? false, size: 6, fill: l.color },
          })),
        ],
        axes: [{ stroke: "#333" }, { stroke: "#333", label: props.unit, size: 60 }],
        scales: { x: { time: true } },
        legend: { live: false },
      },
      data,
      box.current,
    );
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
  }, [shape]);

  useEffect(() => {
    plot.current?.setData(data);
  });

  return (
    <figure class="chart" aria-labelledby={`${props.id}-title`}>
      <figcaption id={`${props.id}-title`}>{props.title}</figcaption>
      <div ref={box} role="img" aria-label={`${props.title}, last hour`} />
    </figure>
  );
}
