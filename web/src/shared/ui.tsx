// Pieces both front ends show.

import { ApiError } from "./api/client";

/// What went wrong, in words for the screen.
export function message(e: unknown): string {
  return e instanceof ApiError ? e.message : e instanceof Error ? e.message : String(e);
}

/// An error line, announced to screen readers; nothing when `text` is empty.
export function Problem({ text }: { text: string }) {
  return text ? (
    <p class="error" role="alert">
      {text}
    </p>
  ) : null;
}
