// Hooks both front ends use.

import { useRef } from "preact/hooks";

/// A ref holding `value` as of the latest render, for handlers registered once (a document
/// keydown listener, say) that must read current state rather than what their closure captured.
export function useLatest<T>(value: T): { readonly current: T } {
  const ref = useRef(value);
  ref.current = value;
  return ref;
}
