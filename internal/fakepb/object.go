package fakepb

import (
	"strings"
	"time"
)

// pushObject is a push in the API's shape. The target is echoed the way the
// API does it: device_iden as target_device_iden, email as the receiver,
// channel_tag as channel_iden, client_iden as is.
type pushObject struct {
	Iden                    string  `json:"iden"`
	Active                  bool    `json:"active"`
	Created                 float64 `json:"created"`
	Modified                float64 `json:"modified"`
	Type                    string  `json:"type"`
	Dismissed               bool    `json:"dismissed"`
	GUID                    string  `json:"guid,omitempty"`
	Direction               string  `json:"direction"`
	SenderIden              string  `json:"sender_iden"`
	SenderEmail             string  `json:"sender_email"`
	SenderEmailNormalized   string  `json:"sender_email_normalized"`
	SenderName              string  `json:"sender_name"`
	ReceiverIden            string  `json:"receiver_iden,omitempty"`
	ReceiverEmail           string  `json:"receiver_email"`
	ReceiverEmailNormalized string  `json:"receiver_email_normalized"`
	TargetDeviceIden        string  `json:"target_device_iden,omitempty"`
	ChannelIden             string  `json:"channel_iden,omitempty"`
	ClientIden              string  `json:"client_iden,omitempty"`
	Title                   string  `json:"title,omitempty"`
	Body                    string  `json:"body,omitempty"`
	URL                     string  `json:"url,omitempty"`
}

func (r *record) object() pushObject {
	ts := unixSeconds(r.at)
	o := pushObject{
		Iden:                    r.iden,
		Active:                  true,
		Created:                 ts,
		Modified:                ts,
		Type:                    r.typ,
		GUID:                    r.guid,
		Direction:               "self",
		SenderIden:              AccountIden,
		SenderEmail:             AccountEmail,
		SenderEmailNormalized:   AccountEmail,
		SenderName:              AccountName,
		ReceiverIden:            AccountIden,
		ReceiverEmail:           AccountEmail,
		ReceiverEmailNormalized: AccountEmail,
		TargetDeviceIden:        r.target["device_iden"],
		ClientIden:              r.target["client_iden"],
		Title:                   r.title,
		Body:                    r.body,
		URL:                     r.url,
	}
	if email := r.target["email"]; email != "" && !strings.EqualFold(email, AccountEmail) {
		o.Direction = "outgoing"
		o.ReceiverIden = ""
		o.ReceiverEmail = email
		o.ReceiverEmailNormalized = strings.ToLower(email)
	}
	if tag := r.target["channel_tag"]; tag != "" {
		o.Direction = "outgoing"
		o.ChannelIden = "ujchan" + tag
	}
	return o
}

// unixSeconds is t as the API writes timestamps: float seconds since the epoch.
func unixSeconds(t time.Time) float64 {
	return float64(t.UnixMicro()) / 1e6
}
