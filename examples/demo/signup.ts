/** The signup form's props for a form body: validation and password strength, computed on the server. */

import type { SignupProps } from "./views.tsx";

export function signupProps(body: Record<string, unknown>, submitted: boolean, checks: number): SignupProps {
  const form = { name: String(body.name ?? ""), email: String(body.email ?? "") };
  const password = String(body.password ?? "");
  const hint = password.length < 8 ? "Password needs at least 8 characters" : "";
  return { form, errors: validate(form), strength: strength(password), strengthHint: hint, submitted, checks };
}

function validate(form: { name: string; email: string }): SignupProps["errors"] {
  const errors: SignupProps["errors"] = {};
  if (form.name.trim().length < 2) errors.name = "Name needs at least 2 characters";
  if (!/^[^@\s]+@[^@\s]+\.[a-z]{2,}$/i.test(form.email)) errors.email = "Enter an email like you@example.com";
  return errors;
}

function strength(password: string): number {
  return [/.{8,}/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) => r.test(password)).length;
}
