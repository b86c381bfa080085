// A labelled choice of outlet, for the views that show one outlet at a time.

import type { Outlet } from "../../shared/api/cloud";

/// A labelled choice of outlet, with the whole chain first when `chain` names it.
export function OutletPicker(props: {
  id: string;
  label: string;
  value: string;
  onChange: (v: string) => void;
  outlets: Outlet[];
  chain?: string;
}) {
  return (
    <div>
      <label for={props.id}>{props.label}</label>
      <select id={props.id} value={props.value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
        {props.chain && <option value="chain">{props.chain}</option>}
        {props.outlets.map((o) => (
          <option key={o.id} value={o.id}>
            {o.name}
          </option>
        ))}
      </select>
    </div>
  );
}
