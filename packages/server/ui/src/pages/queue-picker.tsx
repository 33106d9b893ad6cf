import { type Counts, type FlowSettings, get } from "../api";
import { usePoll } from "../hooks";

/** The queues the server knows, for the pickers of the Jobs and Dead letters pages. */
export function useQueues() {
  return usePoll(() => get<{ queues: { name: string; counts: Counts; flow?: FlowSettings }[] }>("/v1/queues"), []);
}

export function QueuePicker(props: { id: string; value: string; names: string[]; onChange: (name: string) => void }) {
  return (
    <span class="field">
      <label for={props.id}>Queue</label>
      <select id={props.id} value={props.value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
        {props.value === "" && <option value="">choose a queue</option>}
        {props.names.map((name) => (
          <option key={name}>{name}</option>
        ))}
      </select>
    </span>
  );
}
