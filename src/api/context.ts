/** What every route module is given: one resolved context object, passed explicitly. */
import type { HeraldConfig } from "../config/load-config.js";
import type { Herald } from "../herald.js";
import type { Authenticator } from "./auth.js";
import type { HeraldMetrics } from "./metrics.js";
import type { EventSchemaValidator } from "./validation.js";

export interface ApiContext {
  herald: Herald;
  config: HeraldConfig;
  auth: Authenticator;
  eventSchemas: EventSchemaValidator;
  metrics: HeraldMetrics;
}
