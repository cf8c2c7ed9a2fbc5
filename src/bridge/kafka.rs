//! Kafka through librdkafka (rdkafka): an idempotent, acks=all producer and a consumer that
//! reads partitions from earliest, latest or a timestamp.

use std::time::Duration;

use super::{Ack, BridgeError, ConsumeOptions, Consumer, Endpoint, Next, OutRecord, Producer};

/// A Kafka producer for one topic.
pub struct KafkaProducer {
    topic: String,
}

impl KafkaProducer {
    /// Connects to `endpoint` and checks that `topic` can be written.
    pub fn new(_endpoint: &Endpoint, topic: &str, _timeout: Duration) -> Result<Self, BridgeError> {
        Ok(Self {
            topic: topic.into(),
        })
    }
}

impl Producer for KafkaProducer {
    fn send(
        &mut self,
        _seq: u64,
        _record: OutRecord,
        _acks: &mut dyn FnMut(Ack),
    ) -> Result<(), BridgeError> {
        unimplemented!("skeleton")
    }
    fn poll(&mut self, _timeout: Duration, _acks: &mut dyn FnMut(Ack)) {}
    fn flush(&mut self, _timeout: Duration, _acks: &mut dyn FnMut(Ack)) -> Result<(), BridgeError> {
        Ok(())
    }
    fn topic(&self) -> &str {
        &self.topic
    }
}

/// A Kafka consumer.
pub struct KafkaConsumer;

impl KafkaConsumer {
    /// Connects to `endpoint` and assigns the partitions of `topics`.
    pub fn new(
        _endpoint: &Endpoint,
        _topics: &[String],
        _options: &ConsumeOptions,
        _timeout: Duration,
    ) -> Result<Self, BridgeError> {
        Ok(Self)
    }
}

impl Consumer for KafkaConsumer {
    fn next(&mut self, _timeout: Duration) -> Result<Next, BridgeError> {
        Ok(Next::End)
    }
    fn commit(&mut self) -> Result<(), BridgeError> {
        Ok(())
    }
}
