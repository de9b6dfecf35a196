/** google.pubsub.v1.Publisher: topics, publishing and detaching subscriptions. */
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Broker } from './broker.ts';
import { parseName } from './names.ts';
import { implementation, paginate } from './rpc.ts';
import { invalidArgument } from './errors.ts';
import type { FieldMask, TopicProto } from './types.ts';
import type { DecodedPublishRequest } from './wire.ts';

interface TopicRequest {
  topic?: string;
  page_size?: number;
  page_token?: string;
}

export function publisherService(broker: Broker): UntypedServiceImplementation {
  return implementation({
    CreateTopic: (request: TopicProto) => broker.createTopic(request),

    UpdateTopic: (request: { topic?: TopicProto; update_mask?: FieldMask }) =>
      broker.updateTopic(request.topic, request.update_mask),

    Publish: (request: DecodedPublishRequest) => {
      if (request.malformed) throw invalidArgument(`Malformed PublishRequest: ${request.malformed}.`);
      return { message_ids: broker.publish(request.topic, request.messages) };
    },

    GetTopic: (request: TopicRequest) => broker.topic(request.topic).proto,

    ListTopics: (request: { project?: string; page_size?: number; page_token?: string }) => {
      const { page, nextPageToken } = paginate(broker.listTopics(request.project), (t) => t.name, request);
      return { topics: page.map((topic) => topic.proto), next_page_token: nextPageToken };
    },

    ListTopicSubscriptions: (request: TopicRequest) => {
      const topic = broker.topic(request.topic);
      const names = [...topic.subscriptions].map((sub) => sub.name).sort();
      const { page, nextPageToken } = paginate(names, (name) => name, request);
      return { subscriptions: page, next_page_token: nextPageToken };
    },

    ListTopicSnapshots: (request: TopicRequest) => {
      const topic = broker.topic(request.topic);
      const names = [...broker.snapshots.values()]
        .filter((snapshot) => snapshot.topic === topic)
        .map((snapshot) => snapshot.name)
        .sort();
      const { page, nextPageToken } = paginate(names, (name) => name, request);
      return { snapshots: page, next_page_token: nextPageToken };
    },

    DeleteTopic: (request: TopicRequest) => {
      broker.deleteTopic(request.topic);
      return {};
    },

    DetachSubscription: (request: { subscription?: string }) => {
      parseName('subscriptions', request.subscription);
      broker.detachSubscription(request.subscription);
      return {};
    },
  });
}
