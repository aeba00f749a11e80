/**
 * The demo's client-side islands, rendered by the views on the server and
 * hydrated in the browser by islands.client.tsx (bundled at build time into
 * islands.bundle.gen.ts: `node --import tsx islands/build.ts`).
 *
 * - PasswordField (signup) opts in: whether the password is shown and which
 *   rules it meets are `useRecordedState`, so replay shows the field and the
 *   checklist as the user saw them. The password itself is never state: the
 *   input is uncontrolled, and only the rules it meets are recorded.
 * - TodoHint (todos) does not opt in: plain `useState`, nothing is sent.
 */

import { useState } from "preact/hooks";
import { island, useRecordedState } from "../../islands/client.ts";

export const RULES = [
  { label: "8 characters or more", test: (s: string) => s.length >= 8 },
  { label: "a capital letter", test: (s: string) => /[A-Z]/.test(s) },
  { label: "a digit", test: (s: string) => /[0-9]/.test(s) },
  { label: "a symbol", test: (s: string) => /[^A-Za-z0-9]/.test(s) },
];

/** Which rules `password` meets, one bit each. */
export function rulesMet(password: string): number {
  return RULES.reduce((bits, rule, i) => (rule.test(password) ? bits | (1 << i) : bits), 0);
}

function PasswordField() {
  const [shown, setShown] = useRecordedState("shown", false);
  const [rules, setRules] = useRecordedState("rules", 0);
  return (
    <div class="password-field">
      <label>
        Password{" "}
        <input
          name="password"
          type={shown ? "text" : "password"}
          autocomplete="new-password"
          onInput={(e) => setRules(rulesMet((e.currentTarget as HTMLInputElement).value))}
        />{" "}
        <button type="button" class="show" aria-pressed={shown ? "true" : "false"} onClick={() => setShown(!shown)}>
          {shown ? "Hide" : "Show"}
        </button>
      </label>
      <ul class="rules">
        {RULES.map((rule, i) => {
          const met = (rules & (1 << i)) !== 0;
          return <li class={met ? "met" : ""}>{met ? "✓" : "·"} {rule.label}</li>;
        })}
      </ul>
    </div>
  );
}

function TodoHint(props: { text: string }) {
  const [open, setOpen] = useState(true);
  if (!open) return <p class="muted hint">Hint dismissed.</p>;
  return (
    <p class="muted hint">
      {props.text} <button type="button" class="dismiss" onClick={() => setOpen(false)}>Got it</button>
    </p>
  );
}

export const PasswordIsland = island("password-field", PasswordField);
export const TodoHintIsland = island("todo-hint", TodoHint);

/** Where the app serves the bundle. */
export const ISLANDS_SCRIPT = "/assets/islands.js";
