/**
 * Svix's request and response shapes, as its OpenAPI document and official clients have them
 * (camelCase bodies, snake_case query parameters). Bodies take unknown fields, as Svix's own
 * server does, so a newer client's extra field is not an error; the fields Herald cannot honour
 * are refused by the routes with a 501 that names them.
 */
import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { Nullable } from "../schemas.js";

const open = { additionalProperties: true } as const;
const StringMap = Type.Object({}, { additionalProperties: Type.String() });
const Uid = Type.String({ minLength: 1, maxLength: 256, pattern: "^[a-zA-Z0-9\\-_.]+$" });
const Time = Type.String({ maxLength: 40, description: "ISO-8601 date-time" });
const Channels = Type.Array(Type.String({ maxLength: 128 }), { maxItems: 10 });

export const SvixError = Type.Object({ code: Type.String(), detail: Type.String() }, { $id: "SvixError", description: "Svix's error body" });
export const SvixValidationError = Type.Object(
  {
    detail: Type.Array(Type.Object({ loc: Type.Array(Type.Union([Type.String(), Type.Integer()])), msg: Type.String(), type: Type.String() })),
  },
  { $id: "SvixValidationError", description: "Svix's 422 body" },
);

/** Svix's error responses for a route, by status. */
export function svixErrors(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((status) => [status, status === 422 ? Type.Ref(SvixValidationError) : Type.Ref(SvixError)]));
}

export function ListResponse<T extends TSchema>(item: T) {
  return Type.Object({ data: Type.Array(item), iterator: Nullable(Type.String()), prevIterator: Nullable(Type.String()), done: Type.Boolean() });
}

export const ListQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 250 })),
    iterator: Type.Optional(Type.String({ maxLength: 200 })),
    order: Type.Optional(Type.String({ enum: ["ascending", "descending"] })),
  },
  open,
);
export type ListQuery = Static<typeof ListQuery>;

export const AppParams = Type.Object({ app_id: Type.String({ minLength: 1, maxLength: 256 }) });
export type AppParams = Static<typeof AppParams>;
export const EndpointParams = Type.Object({ app_id: Type.String({ minLength: 1, maxLength: 256 }), endpoint_id: Type.String({ minLength: 1, maxLength: 256 }) });
export type EndpointParams = Static<typeof EndpointParams>;
export const MessageParams = Type.Object({ app_id: Type.String({ minLength: 1, maxLength: 256 }), msg_id: Type.String({ minLength: 1, maxLength: 256 }) });
export type MessageParams = Static<typeof MessageParams>;

// ---- applications

export const ApplicationIn = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 256 }),
    uid: Type.Optional(Nullable(Uid)),
    metadata: Type.Optional(StringMap),
    rateLimit: Type.Optional(Nullable(Type.Integer())),
    throttleRate: Type.Optional(Nullable(Type.Integer())),
  },
  open,
);
export type ApplicationIn = Static<typeof ApplicationIn>;
export const ApplicationPatch = Type.Partial(ApplicationIn, open);
export type ApplicationPatch = Static<typeof ApplicationPatch>;

export const ApplicationOut = Type.Object({
  id: Type.String(),
  uid: Nullable(Type.String()),
  name: Type.String(),
  metadata: StringMap,
  rateLimit: Nullable(Type.Integer()),
  throttleRate: Nullable(Type.Integer()),
  createdAt: Time,
  updatedAt: Time,
});

// ---- endpoints

const endpointFields = {
  url: Type.String({ minLength: 1, maxLength: 2048 }),
  description: Type.Optional(Type.String({ maxLength: 2000 })),
  filterTypes: Type.Optional(Nullable(Type.Array(Type.String({ maxLength: 256 }), { minItems: 1, maxItems: 100 }))),
  channels: Type.Optional(Nullable(Channels)),
  rateLimit: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 100_000 }))),
  throttleRate: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 100_000 }))),
  uid: Type.Optional(Nullable(Uid)),
  disabled: Type.Optional(Type.Boolean()),
  metadata: Type.Optional(StringMap),
  version: Type.Optional(Nullable(Type.Integer())),
};

export const EndpointIn = Type.Object(
  { ...endpointFields, secret: Type.Optional(Nullable(Type.String({ maxLength: 200 }))), headers: Type.Optional(Nullable(StringMap)) },
  open,
);
export type EndpointIn = Static<typeof EndpointIn>;
export const EndpointUpdate = Type.Object(endpointFields, open);
export type EndpointUpdate = Static<typeof EndpointUpdate>;
export const EndpointPatch = Type.Partial(Type.Object({ ...endpointFields, secret: Nullable(Type.String({ maxLength: 200 })) }), open);
export type EndpointPatch = Static<typeof EndpointPatch>;

export const EndpointOut = Type.Object({
  id: Type.String(),
  uid: Nullable(Type.String()),
  url: Type.String(),
  description: Type.String(),
  filterTypes: Nullable(Type.Array(Type.String())),
  channels: Nullable(Type.Array(Type.String())),
  rateLimit: Nullable(Type.Number()),
  throttleRate: Nullable(Type.Number()),
  disabled: Type.Boolean(),
  metadata: StringMap,
  version: Type.Integer(),
  createdAt: Time,
  updatedAt: Time,
});

export const EndpointSecretOut = Type.Object({ key: Type.String({ description: "whsec_..." }) });
export const EndpointSecretRotateIn = Type.Object(
  { key: Type.Optional(Nullable(Type.String({ maxLength: 200 }))), gracePeriodSeconds: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 604_800 }))) },
  open,
);
export type EndpointSecretRotateIn = Static<typeof EndpointSecretRotateIn>;
export const EndpointHeadersIn = Type.Object({ headers: StringMap }, open);
export type EndpointHeadersIn = Static<typeof EndpointHeadersIn>;
export const EndpointHeadersPatchIn = Type.Object({ headers: StringMap, deleteHeaders: Type.Optional(Type.Array(Type.String({ maxLength: 256 }))) }, open);
export type EndpointHeadersPatchIn = Static<typeof EndpointHeadersPatchIn>;
export const EndpointHeadersOut = Type.Object({ headers: StringMap, sensitive: Type.Array(Type.String()) });
export const RecoverIn = Type.Object({ since: Time, until: Type.Optional(Nullable(Time)) }, open);
export type RecoverIn = Static<typeof RecoverIn>;
export const RecoverOut = Type.Object({ id: Type.String(), status: Type.String({ enum: ["running", "finished"] }), task: Type.String(), updatedAt: Time });
export const EndpointStats = Type.Object({ success: Type.Integer(), pending: Type.Integer(), sending: Type.Integer(), fail: Type.Integer(), canceled: Type.Integer() });

// ---- messages and attempts

export const MessageIn = Type.Object(
  {
    eventType: Type.String({ minLength: 1, maxLength: 256 }),
    payload: Type.Unknown(),
    eventId: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 256 }))),
    channels: Type.Optional(Nullable(Channels)),
    application: Type.Optional(Nullable(Type.Object({}, open))),
    deliverAt: Type.Optional(Nullable(Time)),
    tags: Type.Optional(Nullable(Type.Array(Type.String()))),
    transformationsParams: Type.Optional(Type.Unknown()),
    payloadRetentionHours: Type.Optional(Nullable(Type.Integer())),
    payloadRetentionPeriod: Type.Optional(Nullable(Type.Integer())),
  },
  open,
);
export type MessageIn = Static<typeof MessageIn>;

export const MessageOut = Type.Object({
  id: Type.String(),
  eventId: Nullable(Type.String()),
  eventType: Type.String(),
  payload: Type.Unknown(),
  channels: Nullable(Type.Array(Type.String())),
  tags: Nullable(Type.Array(Type.String())),
  deliverAt: Nullable(Time),
  timestamp: Time,
});

const EventTypes = Type.Union([Type.String({ maxLength: 4096 }), Type.Array(Type.String({ maxLength: 256 }))], {
  description: "comma-separated (the clients' form) or repeated",
});

export const MessageListQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 250 })),
    iterator: Type.Optional(Type.String({ maxLength: 200 })),
    channel: Type.Optional(Type.String({ maxLength: 128 })),
    before: Type.Optional(Time),
    after: Type.Optional(Time),
    with_content: Type.Optional(Type.Boolean()),
    event_types: Type.Optional(EventTypes),
  },
  open,
);
export type MessageListQuery = Static<typeof MessageListQuery>;

export const AttemptListQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 250 })),
    iterator: Type.Optional(Type.String({ maxLength: 200 })),
    status: Type.Optional(Type.Integer({ minimum: 0, maximum: 4, description: "0 success, 1 pending, 2 fail, 3 sending, 4 canceled" })),
    before: Type.Optional(Time),
    after: Type.Optional(Time),
    event_types: Type.Optional(EventTypes),
    endpoint_id: Type.Optional(Type.String({ maxLength: 256 })),
    with_msg: Type.Optional(Type.Boolean()),
  },
  open,
);
export type AttemptListQuery = Static<typeof AttemptListQuery>;

export const MessageAttemptOut = Type.Object({
  id: Type.String(),
  msgId: Type.String(),
  endpointId: Type.String(),
  url: Type.String(),
  response: Type.String(),
  responseStatusCode: Type.Integer(),
  responseDurationMs: Type.Integer(),
  status: Type.Integer({ description: "0 success, 2 fail" }),
  statusText: Type.String(),
  triggerType: Type.Integer(),
  timestamp: Time,
  msg: Type.Optional(MessageOut),
});

// ---- event types

const eventTypeFields = {
  description: Type.String({ maxLength: 2000 }),
  schemas: Type.Optional(Nullable(Type.Object({}, { additionalProperties: true, description: 'JSON Schemas by version: {"1": {...}}' }))),
  archived: Type.Optional(Type.Boolean()),
  deprecated: Type.Optional(Type.Boolean()),
  featureFlag: Type.Optional(Nullable(Type.String())),
  featureFlags: Type.Optional(Nullable(Type.Array(Type.String()))),
  groupName: Type.Optional(Nullable(Type.String())),
};
export const EventTypeIn = Type.Object({ name: Type.String({ minLength: 1, maxLength: 256 }), ...eventTypeFields }, open);
export type EventTypeIn = Static<typeof EventTypeIn>;
export const EventTypeUpdate = Type.Object(eventTypeFields, open);
export type EventTypeUpdate = Static<typeof EventTypeUpdate>;
export const EventTypePatch = Type.Partial(Type.Object(eventTypeFields), open);
export type EventTypePatch = Static<typeof EventTypePatch>;
export const EventTypeParams = Type.Object({ event_type_name: Type.String({ minLength: 1, maxLength: 256 }) });
export type EventTypeParams = Static<typeof EventTypeParams>;

export const EventTypeOut = Type.Object({
  name: Type.String(),
  description: Type.String(),
  schemas: Nullable(Type.Object({}, { additionalProperties: true })),
  archived: Type.Boolean(),
  deprecated: Type.Boolean(),
  featureFlag: Nullable(Type.String()),
  featureFlags: Nullable(Type.Array(Type.String())),
  groupName: Nullable(Type.String()),
  createdAt: Time,
  updatedAt: Time,
});
