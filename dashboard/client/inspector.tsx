/**
 * The assigns of the frame on screen, the keys its render changed marked, and
 * what differs from the previous frame. Every value arrives pretty-printed by
 * the server (data.ts) and is shown as text.
 */

import { type FrameData, formatOffset } from "../shared.ts";

export function Inspector(props: { frame?: FrameData }) {
  const { frame } = props;
  if (!frame) return <section class="inspector" id="inspector"><h2>Assigns</h2><p class="muted">loading…</p></section>;
  const changed = new Set(frame.changed);
  return (
    <section class="inspector" id="inspector" data-frame={String(frame.i)}>
      <h2>
        Assigns <small>frame {frame.i + 1} · {formatOffset(frame.t)}</small>{" "}
        {frame.identical === true && <span class="badge ok" title="The re-render is byte-identical to the HTML that was served">identical</span>}
        {frame.identical === false && <span class="badge bad" title="The re-render differs from the HTML that was served">differs</span>}
      </h2>
      <table class="assigns">
        <tbody>
          {frame.assigns.map(([key, text]) => (
            <tr class={changed.has(key) ? "changed" : undefined} data-key={key}>
              <th>{key}{changed.has(key) && <span class="dot" title="changed by this render">●</span>}</th>
              <td><pre>{text}</pre></td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Diff against the previous frame</h3>
      {frame.i === 0 ? (
        <p class="muted" id="diff">first frame (mount)</p>
      ) : frame.diff.length === 0 ? (
        <p class="muted" id="diff">no assign changed</p>
      ) : (
        <div class="diff" id="diff">
          {frame.diff.map((d) => (
            <div class="diff-entry" data-key={d.key}>
              <div class="diff-key">{d.key}{d.before === undefined ? " (added)" : d.after === undefined ? " (removed)" : ""}</div>
              {d.before !== undefined && <pre class="del">{d.before}</pre>}
              {d.after !== undefined && <pre class="add">{d.after}</pre>}
            </div>
          ))}
        </div>
      )}
    </section>
  );
}
