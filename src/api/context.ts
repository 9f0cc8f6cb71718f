/** What every route module is given: one resolved context object, passed explicitly. */
import type { HeraldConfig } from "../config/load-config.js";
import type { Herald } from "../herald.js";
import type { Authenticator } from "./auth.js";
import type { HeraldMetrics } from "./metrics.js";

export interface ApiContext {
  herald: Herald;
  config: HeraldConfig;
  auth: Authenticator;
  metrics: HeraldMetrics;
}
