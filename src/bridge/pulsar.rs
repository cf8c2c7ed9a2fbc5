//! Pulsar through the `pulsar` crate (tokio): a batching producer and a reader from earliest,
//! latest or a publish time.

use std::time::Duration;

/// The client settings a Pulsar endpoint takes (`-X key=value`).
pub const SETTINGS: &[&str] = &[];

use super::{Ack, BridgeError, ConsumeOptions, Consumer, Endpoint, Next, OutRecord, Producer};

/// A Pulsar producer for one topic.
pub struct PulsarProducer {
    topic: String,
}

impl PulsarProducer {
    /// Connects to `endpoint` and checks that `topic` can be written.
    pub fn new(_endpoint: &Endpoint, topic: &str, _timeout: Duration) -> Result<Self, BridgeError> {
        Ok(Self {
            topic: topic.into(),
        })
    }
}

impl Producer for PulsarProducer {
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

/// A Pulsar consumer.
pub struct PulsarConsumer;

impl PulsarConsumer {
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

impl Consumer for PulsarConsumer {
    fn next(&mut self, _timeout: Duration) -> Result<Next, BridgeError> {
        Ok(Next::End)
    }
    fn commit(&mut self) -> Result<(), BridgeError> {
        Ok(())
    }
}
