/**
 * A real https receiver on 127.0.0.1 with the certificates of test/fixtures/tls (made by its
 * generate.sh): its own certificate is signed by the test CA for IP:127.0.0.1, and with
 * `requestCert` it asks for a client certificate and refuses any the test CA did not sign, as
 * Convoy's or Svix's mTLS endpoints do.
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";

const FIXTURES = new URL("../fixtures/tls/", import.meta.url);

/** A fixture file's PEM text: ca.pem, client.pem, client.key, other-client.pem, expired.pem, ... */
export function fixture(name: string): string {
  return readFileSync(new URL(name, FIXTURES), "utf8");
}

export interface TlsRequest {
  path: string;
  body: string;
  /** The CN of the client certificate presented, or null. */
  clientCn: string | null;
}

export interface TlsReceiver {
  url: string;
  requests: TlsRequest[];
  /** TLS handshakes that failed, with the server side's reason. */
  handshakeErrors: string[];
  close(): Promise<void>;
}

const opened: TlsReceiver[] = [];

export async function startTlsReceiver(options: { requestCert: boolean }): Promise<TlsReceiver> {
  const receiver: TlsReceiver = {
    url: "",
    requests: [],
    handshakeErrors: [],
    async close() {
      if (!server.listening) return;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer(
    {
      cert: fixture("receiver.pem"),
      key: fixture("receiver.key"),
      ca: fixture("ca.pem"),
      requestCert: options.requestCert,
      rejectUnauthorized: options.requestCert,
    },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        const cn = peer && peer.subject ? peer.subject.CN : undefined;
        receiver.requests.push({ path: req.url ?? "", body: Buffer.concat(chunks).toString("utf8"), clientCn: typeof cn === "string" ? cn : null });
        res.writeHead(200, { "content-type": "text/plain" });
        res.end("ok");
      });
    },
  );
  server.on("tlsClientError", (error) => receiver.handshakeErrors.push(error.message));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiver.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  opened.push(receiver);
  return receiver;
}

export async function closeTlsReceivers(): Promise<void> {
  for (const receiver of opened.splice(0)) await receiver.close();
}
