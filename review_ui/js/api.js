// The server's HTTP API, with the session cookie and the CSRF header every change needs.

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
  }
}

function csrf() {
  const match = document.cookie.match(/(?:^|;\s*)sw_csrf=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  if (method !== "GET") headers["X-CSRF-Token"] = csrf();
  const response = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data?.detail ?? response.statusText);
  return data;
}

export const get = (path, params) => {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const one of [].concat(value)) query.append(key, one);
  }
  const text = query.toString();
  return call("GET", text ? `${path}?${text}` : path);
};
export const post = (path, body) => call("POST", path, body);

export const evidenceUrl = (sha256) => `/api/v1/evidence/${sha256}`;

export function signIn(username, password) {
  const form = new FormData();
  form.append("username", username);
  form.append("password", password);
  return post("/api/v1/auth/session", form);
}

export const signOut = () => call("DELETE", "/api/v1/auth/session");
