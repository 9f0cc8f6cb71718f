// Moved to src/secrets/api-key-text.ts; kept until src/api/auth.ts imports from there.
export { API_KEY_PREFIX, generateApiKey, hashApiKey, secretsEqual } from "../secrets/api-key-text.js";
