import { count, formatBytes } from '../format.js';

interface Night {
  date: string;
  itemsExported: number;
  bytesExported: number;
}

/** Bars of one measure per night, each with its value as a tooltip and in the table beneath. */
function Bars(props: { nights: Night[]; value: (n: Night) => number; label: string; format: (v: number) => string }) {
  const max = Math.max(1, ...props.nights.map(props.value));
  const width = 100 / Math.max(1, props.nights.length);
  return (
    <figure class="chart">
      <figcaption>{props.label}</figcaption>
      <svg viewBox="0 0 100 40" preserveAspectRatio="none" role="img" aria-label={`${props.label}, per night`}>
        {props.nights.map((n, i) => {
          const h = (props.value(n) / max) * 38;
          return (
            <rect key={n.date} x={i * width + width * 0.1} y={40 - h} width={width * 0.8} height={h}>
              <title>{`${n.date}: ${props.format(props.value(n))}`}</title>
            </rect>
          );
        })}
      </svg>
      <div class="axis">
        <span>{props.nights[0]?.date}</span>
        <span>max {props.format(max)}</span>
        <span>{props.nights.at(-1)?.date}</span>
      </div>
    </figure>
  );
}

export function NightChart({ nights }: { nights: Night[] }) {
  return (
    <div>
      <div class="charts">
        <Bars nights={nights} value={(n) => n.itemsExported} label="Items backed up" format={count} />
        <Bars nights={nights} value={(n) => n.bytesExported} label="Bytes backed up" format={formatBytes} />
      </div>
      <details>
        <summary>Nights as a table</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">Night (UTC)</th>
              <th scope="col">Items</th>
              <th scope="col">Bytes</th>
            </tr>
          </thead>
          <tbody>
            {nights.map((n) => (
              <tr key={n.date}>
                <td>{n.date}</td>
                <td>{count(n.itemsExported)}</td>
                <td>{formatBytes(n.bytesExported)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </div>
  );
}
