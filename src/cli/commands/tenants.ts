/**
 * Tenant portal links from the command line (admin key): `tenants:portal-link` prints a link
 * that opens the dashboard as one tenant until it expires; `tenants:revoke-portal-links` ends
 * every link of a tenant made so far.
 */
import type { Command } from "commander";
import { ApiClient } from "../api-client.js";
import { checkId, clientFrom, parseWholeNumber, withServerOptions, type CommonFlags } from "../command-options.js";
import { CliError, renderFields } from "../output.js";
import { print } from "./webhooks.js";

/** Svix's longest app portal session; the server refuses more with a 422 as well. */
const MAX_EXPIRY_SECONDS = 7 * 86_400;

interface PortalLinkView {
  url: string;
  token: string;
  tenantId: string;
  expiresAt: string;
  readOnly: boolean;
}

/** Portal links are minted by the admin only: the tenant key found beside the server is not used. */
function adminClient(flags: CommonFlags, command: string): ApiClient {
  const client = clientFrom(flags);
  if (client.connection.adminKey === undefined) {
    throw new CliError(`${command} needs the admin key: pass --admin-key, set HERALD_ADMIN_API_KEY, or run on the server's machine (looked in ${client.connection.dataDir})`);
  }
  return new ApiClient({ ...client.connection, apiKey: undefined });
}

export function registerTenantCommands(program: Command): void {
  withServerOptions(program.command("tenants:portal-link").description("print a link that opens the dashboard as this tenant until it expires (admin key)"))
    .argument("<tenant-id>")
    .option("--expires-in <seconds>", `seconds the link works, 1 to ${MAX_EXPIRY_SECONDS} (7 days)`, "3600")
    .option("--read-only", "the link can look but not change anything")
    .action(async (id: string, flags: CommonFlags & { expiresIn: string; readOnly?: boolean }) => {
      const expiresInSeconds = parseWholeNumber("--expires-in", flags.expiresIn, 1, MAX_EXPIRY_SECONDS, "seconds");
      const link = await adminClient(flags, "tenants:portal-link").request<PortalLinkView>("POST", `/v1/tenants/${checkId("tenant-id", id)}/portal-links`, {
        body: { expiresInSeconds, readOnly: flags.readOnly === true },
      });
      print(flags, link, () =>
        [link.url, "", renderFields([["tenant", link.tenantId], ["expires", link.expiresAt], ["read-only", link.readOnly ? "yes" : "no"]])].join("\n"),
      );
    });

  withServerOptions(program.command("tenants:revoke-portal-links").description("end every portal link of this tenant made so far (admin key)"))
    .argument("<tenant-id>")
    .action(async (id: string, flags: CommonFlags) => {
      const answer = await adminClient(flags, "tenants:revoke-portal-links").request<{ tenantId: string; revokedBefore: string }>(
        "DELETE", `/v1/tenants/${checkId("tenant-id", id)}/portal-links`,
      );
      print(flags, answer, () => `Revoked the portal links of tenant ${answer.tenantId} made until ${answer.revokedBefore}`);
    });
}
