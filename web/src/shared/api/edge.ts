// The edge's JSON as the POS reads it: names for the schemas of the edge's /openapi.json
// (edge.gen.ts, written by scripts/api-types), in one place.

import type { components } from "./edge.gen";

type Schemas = components["schemas"];

export type Conflict = Schemas["Conflict"];
export type CounterDelivery = Schemas["CounterDelivery"];
export type DayReport = Schemas["DayReport"];
export type DeliveryAddress = Schemas["DeliveryAddress"];
export type Fulfilment = Schemas["Fulfilment"];
export type Item = Schemas["MenuItemView"];
export type Menu = Schemas["MenuView"];
export type Modifier = Schemas["Modifier"];
export type ModifierGroup = Schemas["ModifierGroup"];
export type NewOrder = Schemas["NewOrder"];
export type NewRefund = Schemas["NewRefund"];
export type NewTender = Schemas["NewTender"];
export type Order = Schemas["Order"];
export type PendingRefund = Schemas["PendingRefund"];
export type RefundRequest = Schemas["RefundRequest"];
export type Role = Schemas["StaffRole"];
export type SessionOut = Schemas["SessionOut"];
export type SignInAlert = Schemas["SignInAlert"];
export type Staff = Schemas["Staff"];
export type StockLevel = Schemas["StockLevel"];
export type SyncStatus = Schemas["SyncStatus"];
export type Ticket = Schemas["Ticket"];
export type Variant = Schemas["Variant"];
