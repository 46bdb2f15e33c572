// Operations of account mail: verification, forgotten passwords, invitations (docs/security.md).
import { graphql } from "../gql";

export const RequestPasswordResetMutation = graphql(`
  mutation RequestPasswordReset($email: String!) {
    requestPasswordReset(email: $email) {
      __typename
      ... on PasswordResetRequested { message mailEnabled }
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const ResetPasswordMutation = graphql(`
  mutation ResetPassword($token: String!, $newPassword: String!) {
    resetPassword(token: $token, newPassword: $newPassword) {
      __typename
      ... on PasswordReset { endedSessions user { username } }
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const VerifyEmailMutation = graphql(`
  mutation VerifyEmail($token: String!) {
    verifyEmail(token: $token) {
      __typename
      ... on EmailVerified { user { username email } }
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const ResendVerificationEmailMutation = graphql(`
  mutation ResendVerificationEmail {
    resendVerificationEmail {
      __typename
      ... on VerificationSent { email }
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const AcceptInvitationMutation = graphql(`
  mutation AcceptInvitation($token: String!, $username: String!, $password: String!) {
    acceptInvitation(token: $token, username: $username, password: $password, useCookie: true) {
      __typename
      ... on AuthPayload { accessToken accessTokenExpiresAt role tenant { slug name } user { username } }
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const VerificationStateQuery = graphql(`
  query VerificationState {
    me { emailVerificationPending user { email } }
  }
`);

export const ChangeEmailMutation = graphql(`
  mutation ChangeEmail($currentPassword: String!, $newEmail: String!) {
    changeEmail(currentPassword: $currentPassword, newEmail: $newEmail) {
      __typename
      ... on EmailChanged { verificationSent user { email } }
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const InviteMemberMutation = graphql(`
  mutation InviteMember($email: String!, $role: Role!) {
    inviteMember(email: $email, role: $role) {
      __typename
      ... on Invitation { email role expiresAt }
      ... on Membership { role user { username } }
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const PendingInvitationsQuery = graphql(`
  query PendingInvitations {
    invitations { id email role invitedBy createdAt expiresAt }
  }
`);

export const RevokeInvitationMutation = graphql(`
  mutation RevokeInvitation($id: UUID!) {
    revokeInvitation(id: $id) {
      __typename
      ... on Invitation { id email }
      ... on UserError { message }
    }
  }
`);
