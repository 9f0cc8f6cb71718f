/** What the official svix client raised, for tests that expect a refusal. */
import { ApiException } from "svix";

/** The ApiException a call raised; fails the test when it resolved. */
export async function rejection(call: Promise<unknown>): Promise<ApiException<{ code?: string; detail?: unknown }>> {
  try {
    await call;
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    // The clients parse 4xx bodies; a 5xx body they keep as text.
    if (typeof error.body === "string") error.body = JSON.parse(error.body) as unknown;
    return error as ApiException<{ code?: string; detail?: unknown }>;
  }
  throw new Error("the call succeeded; an ApiException was expected");
}
