/**
 * What the payment and shipping providers POST to the API's webhook routes, after the signature
 * (shared/webhooks) is verified over the raw body, and the order command each delivery means.
 * `id` is the provider's event id: the API processes each one once (a provider retries and may
 * send duplicates). Unknown fields are dropped, so a provider adding some breaks nothing.
 */
import { z } from 'zod';
import type { OrderCommand } from '#shared/domain/order/index.ts';

const Id = z.string().min(1).max(200);
const Base = { id: Id, created: z.number().int().min(0) };
const Payment = {
  paymentId: Id,
  orderId: z.string().min(1).max(200),
  amountMinor: z.number().int().min(0),
  currency: z.string().regex(/^[A-Z]{3}$/),
};

export const PaymentWebhookSchema = z.discriminatedUnion('type', [
  z.object({ ...Base, type: z.literal('payment.succeeded'), data: z.object(Payment) }),
  z.object({
    ...Base,
    type: z.literal('payment.failed'),
    data: z.object({
      ...Payment,
      reason: z.string().min(1).max(500),
      declineCode: z.string().max(100).optional(),
    }),
  }),
]);
export type PaymentWebhook = z.infer<typeof PaymentWebhookSchema>;

const Shipment = { shipmentId: Id, orderId: z.string().min(1).max(200) };
const Tracking = { carrier: z.string().min(1).max(100), trackingNumber: z.string().min(1).max(100) };

export const ShippingWebhookSchema = z.discriminatedUnion('type', [
  z.object({
    ...Base,
    type: z.literal('shipment.dispatched'),
    data: z.object({ ...Shipment, ...Tracking, dispatchedAt: z.iso.datetime({ offset: true }) }),
  }),
  z.object({
    ...Base,
    type: z.literal('shipment.delivered'),
    data: z.object({ ...Shipment, ...Tracking, deliveredAt: z.iso.datetime({ offset: true }) }),
  }),
  z.object({
    ...Base,
    type: z.literal('shipment.failed'),
    data: z.object({ ...Shipment, reason: z.string().min(1).max(500) }),
  }),
]);
export type ShippingWebhook = z.infer<typeof ShippingWebhookSchema>;

/** The order a delivery is about, and what to ask of it. */
export interface WebhookCommand {
  orderId: string;
  providerEventId: string;
  command: OrderCommand;
}

export function paymentWebhookCommand(webhook: PaymentWebhook): WebhookCommand {
  const { id, data } = webhook;
  const command: OrderCommand =
    webhook.type === 'payment.succeeded'
      ? {
          type: 'RecordPaymentProcessed',
          paymentId: data.paymentId,
          amountMinor: data.amountMinor,
          currency: data.currency,
          providerEventId: id,
        }
      : {
          type: 'RecordPaymentFailed',
          paymentId: data.paymentId,
          reason: webhook.data.reason,
          providerEventId: id,
          ...(webhook.data.declineCode ? { declineCode: webhook.data.declineCode } : {}),
        };
  return { orderId: data.orderId, providerEventId: id, command };
}

export function shippingWebhookCommand(webhook: ShippingWebhook): WebhookCommand {
  const { id } = webhook;
  let command: OrderCommand;
  switch (webhook.type) {
    case 'shipment.dispatched':
      command = {
        type: 'RecordShipmentDispatched',
        shipmentId: webhook.data.shipmentId,
        carrier: webhook.data.carrier,
        trackingNumber: webhook.data.trackingNumber,
        providerEventId: id,
      };
      break;
    case 'shipment.delivered':
      command = {
        type: 'RecordShipmentDelivered',
        shipmentId: webhook.data.shipmentId,
        deliveredAt: webhook.data.deliveredAt,
        providerEventId: id,
      };
      break;
    case 'shipment.failed':
      command = {
        type: 'RecordShipmentFailed',
        shipmentId: webhook.data.shipmentId,
        reason: webhook.data.reason,
        providerEventId: id,
      };
      break;
  }
  return { orderId: webhook.data.orderId, providerEventId: id, command };
}
