import { logContract } from '../contracts/log.contract.js';
import { kafkaLogFactory } from '../helpers/kafka-broker.js';

logContract('kafka', kafkaLogFactory());
