export { createKafkaLog, type KafkaLog, type KafkaLogOptions } from './kafka-log.js';
