/** The dead-letter topic of a kafka log: where records the materializer set aside go, for people to read. */
import type { Admin, Message } from 'kafkajs';
import type { DeadLetter } from '../types.js';
import { adminErrorKinds } from './kafka-errors.js';
import type { TopicSpec } from './kafka-topic-admin.js';

export function deadLetterTopicOf(topic: string): string {
  return `${topic}.dlq`;
}

/** `<topic>.dlq`: one partition (dead letters are rare and read by people), same replication as the topic. */
export async function ensureDeadLetterTopic(admin: Admin, spec: TopicSpec): Promise<void> {
  const topic = deadLetterTopicOf(spec.topic);
  if ((await admin.listTopics()).includes(topic) || !spec.createTopic) return;
  try {
    await admin.createTopics({
      waitForLeaders: true,
      timeout: spec.requestTimeoutMs,
      topics: [{ topic, numPartitions: 1, replicationFactor: spec.replicationFactor, configEntries: [{ name: 'max.message.bytes', value: String(spec.maxMessageBytes) }] }],
    });
  } catch (e) {
    if (!adminErrorKinds(e).includes('TOPIC_ALREADY_EXISTS')) throw e;
  }
}

/** One message per entry, the original value with where it came from and why it was set aside in headers. */
export function deadLetterMessages(sourceTopic: string, entries: DeadLetter[]): Message[] {
  return entries.map((e) => ({
    partition: 0, // the producer's partitioner only honours explicit partitions
    value: e.value,
    headers: {
      'v3-reason': e.reason,
      'v3-message': e.message.slice(0, 4096),
      'v3-source-topic': sourceTopic,
      'v3-source-partition': String(e.partition),
      'v3-source-offset': String(e.offset),
    },
  }));
}
