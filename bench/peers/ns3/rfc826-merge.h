// RFC 826 "merge" for ns-3's ARP: the target of a request learns the sender.
//
// RFC 826 (packet reception): "If the pair <protocol type, sender protocol
// address> is already in my translation table, update the sender hardware
// address ... If Merge_flag is false [and I am the target], add the triplet
// to the translation table." Linux does this in arp_process -> neigh_event_ns
// (the sender's entry becomes STALE), and so does podwire
// (models/stack/arp.ts). ns-3 3.37 does not: ArpL3Protocol::Receive answers
// the request and leaves its cache alone ("we do not update the ARP cache when
// we receive an ARP request from an unknown node", ns-3 bug 107). Without the
// merge, every ns-3 echo reply would need an ARP exchange of its own (a second
// broadcast flooded over the whole bridge), and the two simulators would not
// be doing the same work. This handler adds the merge beside ns-3's ARP, using
// only public ArpCache API; ns-3's own handler still sends the reply.
#ifndef PODWIRE_NS3_RFC826_MERGE_H
#define PODWIRE_NS3_RFC826_MERGE_H

#include "ns3/arp-cache.h"
#include "ns3/arp-header.h"
#include "ns3/arp-l3-protocol.h"
#include "ns3/ipv4-interface.h"
#include "ns3/ipv4-l3-protocol.h"
#include "ns3/net-device.h"
#include "ns3/node.h"
#include "ns3/packet.h"

namespace podwire
{

/** Node protocol handler for ARP frames on one device (registered after ns-3's ArpL3Protocol). */
inline void
MergeArpRequestSender(ns3::Ptr<ns3::NetDevice> dev,
                      ns3::Ptr<const ns3::Packet> p,
                      uint16_t /* protocol */,
                      const ns3::Address& /* from */,
                      const ns3::Address& /* to */,
                      ns3::NetDevice::PacketType /* packetType */)
{
    ns3::ArpHeader arp;
    ns3::Ptr<ns3::Packet> copy = p->Copy();
    if (copy->RemoveHeader(arp) == 0 || !arp.IsRequest())
    {
        return;
    }
    ns3::Ptr<ns3::Ipv4L3Protocol> ip = dev->GetNode()->GetObject<ns3::Ipv4L3Protocol>();
    int32_t ifIndex = ip->GetInterfaceForDevice(dev);
    if (ifIndex < 0)
    {
        return;
    }
    ns3::Ptr<ns3::Ipv4Interface> iface = ip->GetInterface(ifIndex);
    bool forUs = false;
    for (uint32_t i = 0; i < iface->GetNAddresses(); i++)
    {
        if (iface->GetAddress(i).GetLocal() == arp.GetDestinationIpv4Address())
        {
            forUs = true;
            break;
        }
    }
    if (!forUs)
    {
        return;
    }
    ns3::Ipv4Address sender = arp.GetSourceIpv4Address();
    ns3::Ptr<ns3::ArpCache> cache = iface->GetArpCache();
    ns3::ArpCache::Entry* entry = cache->Lookup(sender);
    if (entry == nullptr)
    {
        // A new entry starts ALIVE (ArpCache::Entry's constructor).
        entry = cache->Add(sender);
        entry->SetMacAddress(arp.GetSourceHardwareAddress());
        entry->UpdateSeen();
    }
    else if (entry->IsWaitReply())
    {
        // Both ends asked at once: resolve ours and flush what waited for it,
        // as ArpL3Protocol::Receive does for a reply (Linux: neigh_update).
        entry->MarkAlive(arp.GetSourceHardwareAddress());
        ns3::ArpCache::Ipv4PayloadHeaderPair pending = entry->DequeuePending();
        while (pending.first)
        {
            iface->Send(pending.first, pending.second, sender);
            pending = entry->DequeuePending();
        }
    }
    else if (entry->IsAlive())
    {
        entry->SetMacAddress(arp.GetSourceHardwareAddress());
        entry->UpdateSeen();
    }
}

/** Installs the merge on every IPv4 interface of `node` (call after the addresses). */
inline void
InstallRfc826Merge(ns3::Ptr<ns3::Node> node)
{
    ns3::Ptr<ns3::Ipv4L3Protocol> ip = node->GetObject<ns3::Ipv4L3Protocol>();
    for (uint32_t i = 1; i < ip->GetNInterfaces(); i++) // 0 is loopback
    {
        node->RegisterProtocolHandler(ns3::MakeCallback(&MergeArpRequestSender),
                                      ns3::ArpL3Protocol::PROT_NUMBER,
                                      ip->GetInterface(i)->GetDevice());
    }
}

} // namespace podwire

#endif
